"""Historical imports: files and the admin endpoint, same rules, deterministic ids."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import uuid_utils
from typer.testing import CliRunner

from collector.ingest.importer import detect_stream, import_file
from convtrack.cli import app
from tests.collector.conftest import read_stream, uuid7_at


@pytest.fixture
def link_id(link: dict) -> str:
    return link["campaign_link_id"]


def conversions(link_id: str) -> list[dict]:
    clicked = dt.datetime(2026, 9, 1, 8, 0)
    tracking = uuid7_at(clicked)
    return [
        {  # 1: good, offset converted to UTC
            "tracking_id": tracking,
            "campaign_link_id": link_id,
            "event_type": "purchase",
            "revenue_amount": "19.99",
            "order_id": "o-1",
            "converted_at": "2026-09-03T10:00:00+02:00",
        },
        {  # 2: good, naive time read as UTC, with event data
            "tracking_id": tracking,
            "campaign_link_id": link_id,
            "event_type": "newsletter_signup",
            "event_data": {"list": "weekly"},
            "converted_at": "2026-09-02 09:30:00",
        },
        {  # 3: bad revenue precision
            "tracking_id": tracking,
            "campaign_link_id": link_id,
            "event_type": "purchase",
            "revenue_amount": 1.005,
            "converted_at": "2026-09-03T10:00:00Z",
        },
        {  # 4: past the window as of its own time (31 days after the click)
            "tracking_id": tracking,
            "campaign_link_id": link_id,
            "event_type": "course_enrollment",
            "converted_at": "2026-10-02T08:00:01Z",
        },
        {  # 5: 30 days 23 h after the click: inside the window as of its own time
            "tracking_id": tracking,
            "campaign_link_id": link_id,
            "event_type": "course_enrollment",
            "converted_at": "2026-10-02T07:00:00Z",
        },
        {  # 6: unparsable time
            "tracking_id": tracking,
            "campaign_link_id": link_id,
            "event_type": "course_enrollment",
            "converted_at": "yesterday",
        },
    ]


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_file_import_keeps_good_rows_and_reports_bad_ones_by_row(settings, link_id, tmp_path):
    path = write_jsonl(tmp_path / "conv.jsonl", conversions(link_id))
    result = import_file(path, settings=settings)
    assert result.stream == "conversions"
    assert (result.accepted, result.rejected) == (3, 3)
    assert [(p.row, p.code, p.field) for p in result.problems] == [
        (3, "revenue_precision", "revenue_amount"),
        (4, "attribution_window_expired", "tracking_id"),
        (6, "invalid_timestamp", "converted_at"),
    ]
    assert all(p.message for p in result.problems)
    rows = sorted(read_stream(settings, "conversions"), key=lambda r: r["converted_at"])
    assert [r["converted_at"] for r in rows] == [
        dt.datetime(2026, 9, 2, 9, 30),
        dt.datetime(2026, 9, 3, 8, 0),
        dt.datetime(2026, 10, 2, 7, 0),
    ]
    assert rows[0]["event_data"] == '{"list":"weekly"}'
    assert rows[1]["revenue_amount"] == Decimal("19.99")
    assert {r["source"] for r in rows} == {"import"}
    assert {r["currency"] for r in rows} == {settings.currency}
    # Each row sits in the partition of its own day.
    days = sorted(p.parent.name for p in (settings.raw_dir / "conversions").glob("*/*.parquet"))
    assert days == ["dt=2026-09-02", "dt=2026-09-03", "dt=2026-10-02"]


def test_importing_a_file_twice_gives_the_same_event_ids(settings, link_id, tmp_path):
    path = write_jsonl(tmp_path / "conv.jsonl", conversions(link_id))
    first = import_file(path, settings=settings, keep_ids=True)
    second = import_file(path, settings=settings, keep_ids=True)
    assert len(first.accepted_ids) == 3
    assert first.accepted_ids == second.accepted_ids
    ids = [r["event_id"] for r in read_stream(settings, "conversions")]
    assert len(ids) == 6 and len(set(ids)) == 3


def test_given_event_ids_are_kept(settings, link_id, tmp_path):
    rows = conversions(link_id)[:1]
    rows[0]["event_id"] = str(uuid_utils.uuid4())
    result = import_file(write_jsonl(tmp_path / "c.jsonl", rows), settings=settings, keep_ids=True)
    assert result.accepted_ids == [(1, rows[0]["event_id"])]


def test_blank_and_broken_lines_are_reported_by_line_number(settings, link_id, tmp_path):
    good = json.dumps(conversions(link_id)[0])
    path = tmp_path / "c.jsonl"
    path.write_text(f"{good}\n\n{{broken\n[1]\n{good}\n")
    result = import_file(path, stream="conversions", settings=settings, keep_ids=True)
    assert result.accepted == 2
    assert [(p.row, p.code) for p in result.problems] == [(3, "invalid_body"), (4, "invalid_body")]
    assert [row for row, _ in result.accepted_ids] == [1, 5]


def test_parquet_clicks_with_typed_columns(settings, link_id, tmp_path):
    clicked = dt.datetime(2026, 9, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    frame = pl.DataFrame(
        {
            "tracking_id": [uuid7_at(dt.datetime(2026, 9, 1)), "bad"],
            "campaign_link_id": [link_id, link_id],
            "clicked_at": [clicked, clicked],
            "ip_address": ["198.51.100.23", None],
            "user_agent": ["Mozilla/5.0", None],
        }
    )
    path = tmp_path / "clicks.parquet"
    frame.write_parquet(path)
    result = import_file(path, settings=settings)
    assert result.stream == "clicks"
    assert (result.accepted, result.rejected) == (1, 1)
    assert [(p.row, p.code, p.field) for p in result.problems] == [
        (2, "invalid_uuid", "tracking_id")
    ]
    (row,) = read_stream(settings, "clicks")
    assert row["clicked_at"] == dt.datetime(2026, 9, 1, 13, 0)
    assert row["ip_address"] == "198.51.100.0"
    assert row["source"] == "import"


def test_unknown_link_in_a_file(settings, link_id, tmp_path):
    rows = conversions(link_id)[:1]
    rows[0]["campaign_link_id"] = str(uuid_utils.uuid7())
    result = import_file(write_jsonl(tmp_path / "c.jsonl", rows), settings=settings)
    assert [p.code for p in result.problems] == ["unknown_campaign_link"]
    assert read_stream(settings, "conversions") == []


@pytest.mark.parametrize(
    ("columns", "stream"),
    [(["clicked_at", "tracking_id"], "clicks"), (["converted_at"], "conversions")],
)
def test_stream_is_told_by_the_columns(columns, stream):
    assert detect_stream(columns) == stream


@pytest.mark.parametrize("columns", [["tracking_id"], ["clicked_at", "converted_at"]])
def test_ambiguous_stream_is_an_error(columns):
    with pytest.raises(ValueError, match="clicks"):
        detect_stream(columns)


def test_admin_import_endpoint_answers_per_event(client, settings, link_id, admin_headers):
    clicks = [
        {
            "tracking_id": uuid7_at(dt.datetime(2026, 9, 1)),
            "campaign_link_id": link_id,
            "clicked_at": "2026-09-01T00:00:01Z",
            "ip_address": "2001:db8:1:2::3",
        },
        {"tracking_id": "nope", "campaign_link_id": link_id, "clicked_at": 12},
    ]
    resp = client.post(
        "/api/admin/import",
        json={"clicks": clicks, "conversions": conversions(link_id)},
        headers=admin_headers,
    )
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["accepted"] == {"clicks": 1, "conversions": 3, "refunds": 0}
    assert answer["rejected"] == {"clicks": 1, "conversions": 3, "refunds": 0}
    statuses = [(r["row"], r["status"]) for r in answer["results"]["clicks"]]
    assert statuses == [(1, "accepted"), (2, "rejected")]
    assert {(e["code"], e["field"]) for e in answer["results"]["clicks"][1]["errors"]} == {
        ("invalid_timestamp", "clicked_at"),
        ("invalid_uuid", "tracking_id"),
    }
    stored = read_stream(settings, "clicks")
    assert [c["ip_address"] for c in stored] == ["2001:db8:1::"]
    assert stored[0]["event_id"] == answer["results"]["clicks"][0]["event_id"]
    assert len(read_stream(settings, "conversions")) == 3


@pytest.mark.parametrize("body", [b"[]", b"{", b'{"clicks": {}}', b'{"purchases": []}'], ids=str)
def test_admin_import_refuses_malformed_bodies(client, admin_headers, body):
    resp = client.post("/api/admin/import", content=body, headers=admin_headers)
    assert resp.status_code == 422
    assert resp.json()["detail"]["code"] == "invalid_body"


def test_the_import_command_reports_refusals_by_row_and_by_code(
    settings, link_id, tmp_path, monkeypatch
):
    monkeypatch.setenv("CONVTRACK_DATA_DIR", str(settings.data_dir))
    click = {"tracking_id": uuid7_at(dt.datetime(2026, 9, 1)), "campaign_link_id": link_id}
    path = write_jsonl(
        tmp_path / "clicks.jsonl",
        [
            click | {"clicked_at": "2026-09-01T10:00:00Z"},
            click | {"clicked_at": "1999-12-31T23:00:00Z"},
            click | {"clicked_at": "9999-12-31T23:59:59Z"},
            click | {"clicked_at": "soon"},
        ],
    )
    result = CliRunner().invoke(app, ["import", str(path)])
    assert result.exit_code == 3, result.output  # some rows were refused
    assert "clicks: 1 accepted, 3 rejected" in result.output
    assert "event_time_out_of_range 2" in result.output
    assert "invalid_timestamp 1" in result.output
    assert "row 3: event_time_out_of_range (clicked_at): clicked_at must be between" in (
        result.output
    )
