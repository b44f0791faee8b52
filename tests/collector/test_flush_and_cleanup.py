"""Admin flush (log → Parquet now) and cleanup requests (a file for the prune sensor)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pyarrow.parquet as pq
import pytest
from dagster import SensorResult, build_sensor_context

from convtrack.core.raw_log import log_dir
from convtrack.core.raw_schema import FIRST_DAY
from orchestration.resources import ConvtrackSettings
from orchestration.sensors import cleanup_requests


def _parquet_event_ids(settings, stream: str) -> set[str]:
    files = (settings.raw_dir / stream).glob("dt=*/*.parquet")
    return {
        e for f in files for e in pq.read_table(f, columns=["event_id"])["event_id"].to_pylist()
    }


def test_flush_turns_acknowledged_events_into_parquet_while_running(
    client, settings, link, admin_headers
):
    event_id = str(uuid.uuid4())
    resp = client.post(
        "/api/conversions",
        json={
            "event_id": event_id,
            "tracking_id": str(uuid.uuid4()),
            "campaign_link_id": link["campaign_link_id"],
            "event_type": "newsletter_signup",
        },
    )
    assert resp.status_code == 202
    assert event_id not in _parquet_event_ids(settings, "conversions")  # still in the log
    resp = client.post("/api/admin/flush", headers=admin_headers)
    assert resp.status_code == 200, resp.text
    assert event_id in _parquet_event_ids(settings, "conversions")
    assert not [p for p in log_dir(settings.raw_dir).glob("*.log") if p.stat().st_size]


def test_flush_needs_the_admin_token(client):
    assert client.post("/api/admin/flush").status_code == 401


def test_cleanup_request_is_queued_for_the_prune_sensor(client, settings, admin_headers):
    resp = client.post(
        "/api/conversions/cleanup", json={"as_of": "2026-03-01"}, headers=admin_headers
    )
    assert resp.status_code == 202, resp.text
    request_id = resp.json()["request_id"]
    stored = json.loads((settings.cleanup_requests_dir / f"{request_id}.json").read_text())
    assert stored["as_of"] == "2026-03-01"

    context = build_sensor_context(cursor=None)
    result = cleanup_requests(context, convtrack=ConvtrackSettings(data_dir=str(settings.data_dir)))
    assert isinstance(result, SensorResult)
    [run] = result.run_requests
    assert run.run_key == request_id
    assert run.run_config["ops"]["prune_warehouse"]["config"]["as_of"] == "2026-03-01"
    # The same request is not launched twice.
    again = cleanup_requests(
        build_sensor_context(cursor=result.cursor),
        convtrack=ConvtrackSettings(data_dir=str(settings.data_dir)),
    )
    assert not isinstance(again, SensorResult)


def test_cleanup_refuses_a_bad_date_and_needs_the_token(client, admin_headers):
    resp = client.post("/api/conversions/cleanup", json={"as_of": "March"}, headers=admin_headers)
    assert resp.status_code == 422
    assert resp.json()["detail"]["code"] == "invalid_date"
    assert client.post("/api/conversions/cleanup").status_code == 401


@pytest.mark.parametrize(
    ("as_of", "code"),
    [
        (lambda today: (today + dt.timedelta(days=1)).isoformat(), "date_out_of_range"),
        (lambda today: "9999-12-31", "date_out_of_range"),
        (lambda today: (FIRST_DAY - dt.timedelta(days=1)).isoformat(), "date_out_of_range"),
        (lambda today: "0001-01-01", "date_out_of_range"),
        (lambda today: "20260301", "invalid_date"),  # read as a date by fromisoformat
        (lambda today: "2026-W09-1", "invalid_date"),
        (lambda today: "\uff12\uff10\uff12\uff16-03-01", "invalid_date"),
        (lambda today: 20260301, "invalid_date"),
        (lambda today: ["2026-03-01"], "invalid_date"),
        (lambda today: "2026-02-30", "invalid_date"),
    ],
    ids=[
        "tomorrow",
        "9999-12-31",
        "before-first-day",
        "0001-01-01",
        "basic-format",
        "week-date",
        "fullwidth-digits",
        "number",
        "list",
        "no-such-day",
    ],
)
def test_cleanup_refuses_an_as_of_in_the_future_or_absurd(
    client, settings, admin_headers, as_of, code
):
    value = as_of(dt.datetime.now(dt.UTC).date())
    resp = client.post("/api/conversions/cleanup", json={"as_of": value}, headers=admin_headers)
    assert resp.status_code == 422, resp.text
    detail = resp.json()["detail"]
    assert (detail["code"], detail["field"]) == (code, "as_of")
    assert not list(settings.cleanup_requests_dir.glob("*.json"))


def test_cleanup_accepts_today_and_the_first_day(client, admin_headers):
    for day in (dt.datetime.now(dt.UTC).date(), FIRST_DAY):
        resp = client.post(
            "/api/conversions/cleanup", json={"as_of": day.isoformat()}, headers=admin_headers
        )
        assert resp.status_code == 202, resp.text
        assert resp.json()["as_of"] == day.isoformat()
