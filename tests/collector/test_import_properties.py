"""Hostile event times through the real import route: never a 5xx, each bad row refused
naming its field, every good row stored, and nothing stored outside the accepted range."""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.clock import utc_now
from collector.validation.rules import MAX_EVENT_TIME_AHEAD
from convtrack.core.raw_schema import FIRST_DAY
from tests.collector.conftest import read_stream, uuid7_at
from tests.collector.strategies import FIRST, good_times, hostile_times

TRACKING = uuid7_at(dt.datetime(2026, 9, 1))

labelled_times = st.one_of(
    good_times().map(lambda t: ("good", t)), hostile_times().map(lambda t: ("hostile", t))
)


def _in_range(moment: dt.datetime, now: dt.datetime) -> bool:
    return FIRST <= moment <= now + MAX_EVENT_TIME_AHEAD


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    clicks=st.lists(labelled_times, min_size=1, max_size=8),
    conversions=st.lists(labelled_times, max_size=4),
)
def test_hostile_event_times_are_refused_by_row_and_good_rows_kept(
    client, settings, link, admin_headers, clicks, conversions
):
    link_id = link["campaign_link_id"]
    body = {
        "clicks": [
            {"tracking_id": TRACKING, "campaign_link_id": link_id, "clicked_at": t}
            for _, t in clicks
        ],
        "conversions": [
            {
                "tracking_id": TRACKING,
                "campaign_link_id": link_id,
                "event_type": "newsletter_signup",
                "converted_at": t,
            }
            for _, t in conversions
        ],
    }
    before = utc_now()
    resp = client.post(
        "/api/admin/import", content=json.dumps(body, ensure_ascii=True), headers=admin_headers
    )
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    for stream, sent, time_field in (
        ("clicks", clicks, "clicked_at"),
        ("conversions", conversions, "converted_at"),
    ):
        results = answer["results"][stream]
        assert [r["row"] for r in results] == list(range(1, len(sent) + 1))
        stored = {r["event_id"]: r for r in read_stream(settings, stream)}
        for (kind, _), result in zip(sent, results, strict=True):
            if kind == "good":
                # The conversion window is not in play: newsletter signups of an old
                # click may be refused for it; any refusal of a good time is a bug.
                assert result["status"] == "accepted" or all(
                    e["field"] != time_field for e in result["errors"]
                ), result
            if result["status"] == "rejected":
                fields = {e["field"] for e in result["errors"]}
                assert fields <= {time_field, "tracking_id"}, result
                assert all(e["message"] for e in result["errors"])
            else:
                row = stored[result["event_id"]]
                assert _in_range(row[time_field], before), row
    for stream in ("clicks", "conversions"):
        for day_dir in (settings.raw_dir / stream).glob("dt=*"):
            day = dt.date.fromisoformat(day_dir.name.removeprefix("dt="))
            assert FIRST_DAY <= day <= (utc_now() + MAX_EVENT_TIME_AHEAD).date()


surrogates = st.integers(0xD800, 0xDFFF).map(chr)
text_with_surrogates = st.lists(
    st.one_of(surrogates, st.characters(blacklist_categories=("Cs",))), min_size=1, max_size=12
).map("".join)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    field=st.sampled_from(["clicked_at", "user_agent", "referrer", "ip_address", "tracking_id"]),
    text=text_with_surrogates,
)
def test_lone_surrogates_in_text_fields_are_refused_by_row(
    client, settings, link, admin_headers, field, text
):
    good = {
        "tracking_id": TRACKING,
        "campaign_link_id": link["campaign_link_id"],
        "clicked_at": "2026-09-01T10:00:00Z",
    }
    body = json.dumps({"clicks": [good, good | {field: text}]}, ensure_ascii=True)
    resp = client.post("/api/admin/import", content=body, headers=admin_headers)
    assert resp.status_code == 200, resp.text
    first, second = resp.json()["results"]["clicks"]
    assert first["status"] == "accepted"
    # What the collector reads: a high surrogate then a low one is a pair in JSON text,
    # one valid character (U+10000 and up); only unpaired ones are lone surrogates.
    received = json.loads(json.dumps(text, ensure_ascii=True))
    if any(0xD800 <= ord(c) <= 0xDFFF for c in received):
        assert second["status"] == "rejected"
        assert {e["field"] for e in second["errors"]} == {field}
