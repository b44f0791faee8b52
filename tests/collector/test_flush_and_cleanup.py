"""Admin flush (log → Parquet now) and cleanup requests (a file for the prune sensor)."""

from __future__ import annotations

import json
import uuid

import pyarrow.parquet as pq
from dagster import SensorResult, build_sensor_context

from collector.storage.log import log_dir
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
