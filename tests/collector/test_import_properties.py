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

FIRST = dt.datetime.combine(FIRST_DAY, dt.time())
TRACKING = uuid7_at(dt.datetime(2026, 9, 1))

digits = "0123456789"
# Other scripts' digits (full-width, Arabic-Indic, Devanagari) look like dates to people.
foreign_digits = [chr(0xFF10 + d) for d in range(10)], [chr(0x0660 + d) for d in range(10)]


def _with_digits(text: str, alphabet: list[str]) -> str:
    return "".join(alphabet[int(c)] if c in digits else c for c in text)


years = st.one_of(
    st.integers(-300_000, 300_000),
    st.sampled_from([-1, 0, 1, 999, 1969, 1999, 2019, 2099, 9999, 10_000, 262_143, 262_144]),
)
fractions = st.one_of(
    st.just(""),
    st.integers(1, 12).map(lambda n: "." + "9" * n),
    st.integers(13, 3000).map(lambda n: "." + "1" * n),
)
offsets = st.one_of(
    st.sampled_from(["", "Z", "z", "+00:00", "-00:00", "+99:99", "-24:00", "+14:00", " UTC"]),
    st.tuples(st.sampled_from("+-"), st.integers(0, 99), st.integers(0, 99)).map(
        lambda t: f"{t[0]}{t[1]:02d}:{t[2]:02d}"
    ),
    st.tuples(st.sampled_from("+-"), st.integers(0, 9999)).map(lambda t: f"{t[0]}{t[1]:04d}"),
)


@st.composite
def hostile_times(draw) -> object:
    year = draw(years)
    sign = draw(st.sampled_from(["", "+"])) if year >= 0 else "-"
    text = (
        f"{sign}{abs(year):04d}-{draw(st.integers(0, 13)):02d}-{draw(st.integers(0, 32)):02d}"
        f"{draw(st.sampled_from(['T', 't', ' ', '_', '']))}"
        f"{draw(st.integers(0, 25)):02d}:{draw(st.integers(0, 61)):02d}:"
        f"{draw(st.integers(0, 61)):02d}{draw(fractions)}{draw(offsets)}"
    )
    encoding = draw(st.sampled_from(["plain", "digits", "padded", "control"]))
    if encoding == "digits":
        text = _with_digits(text, draw(st.sampled_from(foreign_digits)))
    elif encoding == "padded":
        text = f"\u00a0\t{text}\u2028"
    elif encoding == "control":
        text = text.replace("-", "\x00-", 1)
    return draw(
        st.one_of(
            st.just(text),
            st.just(text),
            st.integers(-(10**30), 10**30),
            st.floats(allow_nan=False, allow_infinity=False),
            st.booleans(),
            st.lists(st.just(text), max_size=1),
            st.just({"at": text}),
        )
    )


@st.composite
def good_times(draw) -> str:
    # Away from both ends, so that any offset still lands inside the range.
    latest = utc_now() - dt.timedelta(days=1)
    moment = draw(st.datetimes(min_value=FIRST + dt.timedelta(days=1), max_value=latest))
    offset = dt.timedelta(minutes=draw(st.integers(-14 * 60, 14 * 60)))
    style = draw(st.sampled_from(["Z", "offset", "naive", "space"]))
    if style == "Z":
        return moment.isoformat() + "Z"
    if style == "offset":
        return (moment + offset).replace(tzinfo=dt.timezone(offset)).isoformat()
    if style == "space":
        return moment.isoformat(sep=" ")
    return moment.isoformat()


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
