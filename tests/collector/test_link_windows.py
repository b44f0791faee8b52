"""A campaign link's own attribution window (docs/rules.md#windows-per-link): set at
creation, bounded, stored with the link's versions, used by the collector's early refusal
(live and imported), and never longer than the configured retention keeps clicks."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import uuid_utils
from fastapi.testclient import TestClient
from pydantic import ValidationError

from collector.app import create_app
from collector.clock import utc_now
from collector.links import read_links
from collector.validation.rules import MAX_ATTRIBUTION_WINDOW_DAYS
from convtrack.core.raw_schema import CAMPAIGN_LINKS
from convtrack.core.settings import Settings, configuration_problems
from tests.collector.conftest import ADMIN, read_stream, uuid7_at


def create(client: TestClient, admin_headers: dict, code: str, **extra):
    return client.post(
        "/api/campaign-links",
        json={"short_code": code, "destination_url": "https://example.com/", **extra},
        headers=admin_headers,
    )


def test_a_link_carries_its_window_in_every_version(client, settings, admin_headers):
    resp = create(client, admin_headers, "short", attribution_window_days=7)
    assert resp.status_code == 201, resp.text
    link = resp.json()
    assert link["attribution_window_days"] == 7
    disabled = client.patch(
        f"/api/campaign-links/{link['campaign_link_id']}",
        json={"disabled": True},
        headers=admin_headers,
    ).json()
    assert disabled["attribution_window_days"] == 7
    rows = read_stream(settings, "campaign_links")
    assert [r["attribution_window_days"] for r in rows] == [7, 7]
    # Without one: null, the default applies.
    plain = create(client, admin_headers, "plain").json()
    assert plain["attribution_window_days"] is None
    listed = {x["short_code"]: x["attribution_window_days"] for x in client.get(
        "/api/campaign-links", headers=admin_headers
    ).json()}  # fmt: skip
    assert listed == {"short": 7, "plain": None}


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (0, "invalid_attribution_window"),
        (-1, "invalid_attribution_window"),
        (MAX_ATTRIBUTION_WINDOW_DAYS + 1, "invalid_attribution_window"),
        (10**30, "invalid_attribution_window"),
        (7.0, "invalid_body"),
        ("7", "invalid_body"),
        (True, "invalid_body"),
        ([7], "invalid_body"),
    ],
)
def test_a_window_out_of_bounds_or_not_a_whole_number_is_422(
    client, settings, admin_headers, value, code
):
    resp = create(client, admin_headers, "bad", attribution_window_days=value)
    assert resp.status_code == 422, resp.text
    detail = resp.json()["detail"]
    problems = detail if isinstance(detail, list) else [detail]
    assert [(p["code"], p["field"]) for p in problems] == [(code, "attribution_window_days")]
    assert read_stream(settings, "campaign_links") == []


def test_the_bounds_are_accepted(client, admin_headers):
    for days in (1, MAX_ATTRIBUTION_WINDOW_DAYS):
        resp = create(client, admin_headers, f"w{days}", attribution_window_days=days)
        assert resp.status_code == 201, resp.text


def test_a_window_the_configured_retention_cannot_keep_is_409(tmp_path, admin_headers):
    settings = Settings(data_dir=tmp_path / "data", admin_token=ADMIN, retention_days=31)
    with TestClient(create_app(settings)) as client:
        resp = create(client, admin_headers, "long", attribution_window_days=31)
        assert resp.status_code == 409, resp.text
        detail = resp.json()["detail"]
        assert (detail["code"], detail["field"]) == (
            "window_exceeds_retention",
            "attribution_window_days",
        )
        assert "31" in detail["message"] and "CONVTRACK_RETENTION_DAYS" in detail["message"]
        assert create(client, admin_headers, "fits", attribution_window_days=30).status_code == 201
    assert [r["short_code"] for r in read_stream(settings, "campaign_links")] == ["fits"]


def test_retention_left_unset_follows_the_longest_window(client, settings, admin_headers):
    assert create(client, admin_headers, "long", attribution_window_days=60).status_code == 201
    assert Settings(data_dir=settings.data_dir).retention_days == 61


def test_settings_refuse_a_retention_shorter_than_a_links_window(client, settings, admin_headers):
    link = create(client, admin_headers, "long", attribution_window_days=60).json()
    with pytest.raises(ValidationError) as refused:
        Settings(data_dir=settings.data_dir, retention_days=31)
    (line,) = configuration_problems(refused.value)
    assert "CONVTRACK_RETENTION_DAYS" in line and "61" in line
    assert "'long'" in line and link["campaign_link_id"] in line and "60 days" in line
    assert Settings(data_dir=settings.data_dir, retention_days=61).retention_days == 61


def test_link_files_written_before_windows_still_read(tmp_path):
    old_schema = pa.schema([f for f in CAMPAIGN_LINKS if f.name != "attribution_window_days"])
    now = utc_now()
    row = {
        "campaign_link_id": str(uuid_utils.uuid7()),
        "short_code": "old",
        "destination_url": "https://example.com/",
        "campaign_name": None,
        "youtube_video_id": None,
        "placement": None,
        "created_at": now,
        "disabled_at": None,
        "recorded_at": now,
    }
    day = tmp_path / "raw" / "campaign_links" / f"dt={now.date()}"
    day.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([row], schema=old_schema), day / "w-1.parquet")
    (link,) = read_links(tmp_path / "raw").values()
    assert link.attribution_window_days is None
    assert (
        Settings(data_dir=tmp_path).retention_days
        == Settings(data_dir=tmp_path / "x").retention_days
    )


def conversion(link: dict, clicked: dt.datetime) -> dict:
    return {
        "tracking_id": uuid7_at(clicked),
        "campaign_link_id": link["campaign_link_id"],
        "event_type": "newsletter_signup",
    }


def test_the_early_refusal_uses_the_links_window(client, settings, admin_headers):
    short = create(client, admin_headers, "short", attribution_window_days=7).json()
    long = create(client, admin_headers, "long", attribution_window_days=60).json()
    plain = create(client, admin_headers, "plain").json()
    eight_days_ago = utc_now() - dt.timedelta(days=8, minutes=1)
    forty_days_ago = utc_now() - dt.timedelta(days=40)

    resp = client.post("/api/conversions", json=conversion(short, eight_days_ago))
    assert resp.status_code == 422, resp.text
    detail = resp.json()["detail"]
    problems = detail if isinstance(detail, list) else [detail]
    assert [(p["code"], p["field"]) for p in problems] == [
        ("attribution_window_expired", "tracking_id")
    ]
    assert "more than 7 days" in problems[0]["message"]
    # The default (30) keeps the same click; a 60-day link keeps one 40 days old.
    assert (
        client.post("/api/conversions", json=conversion(plain, eight_days_ago)).status_code == 202
    )
    assert client.post("/api/conversions", json=conversion(long, forty_days_ago)).status_code == 202
    assert (
        client.post("/api/conversions", json=conversion(plain, forty_days_ago)).status_code == 422
    )


def test_an_import_is_judged_by_the_links_window_too(client, settings, admin_headers):
    short = create(client, admin_headers, "short", attribution_window_days=7).json()
    plain = create(client, admin_headers, "plain").json()
    now = utc_now()
    clicked = now - dt.timedelta(days=10)
    rows = [
        conversion(link, clicked) | {"converted_at": now.isoformat() + "Z"}
        for link in (short, plain)
    ]
    resp = client.post(
        "/api/admin/import",
        json={"conversions": rows},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert (answer["accepted"]["conversions"], answer["rejected"]["conversions"]) == (1, 1)
    refused = [r for r in answer["results"]["conversions"] if r["status"] == "rejected"]
    assert len(refused) == 1 and refused[0]["row"] == 1
    (problem,) = refused[0]["errors"]
    assert problem["code"] == "attribution_window_expired"
    assert "more than 7 days" in problem["message"]
