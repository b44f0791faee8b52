"""What an import refuses or cuts: event times out of range, long headers, odd Parquet types."""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from collector.ingest.importer import import_file
from collector.validation.rules import (
    MAX_EVENT_TIME_AHEAD,
    MAX_REFERRER_CHARS,
    MAX_USER_AGENT_CHARS,
)
from collector.validation.scalar import check_conversion, check_refund
from convtrack.core.raw_schema import FIRST_DAY
from tests.collector.conftest import read_stream, uuid7_at

NOW = dt.datetime(2026, 9, 10, 12, 0, 0)
FIRST = dt.datetime.combine(FIRST_DAY, dt.time())
LATEST = NOW + MAX_EVENT_TIME_AHEAD
US = dt.timedelta(microseconds=1)


@pytest.fixture
def link_id(link: dict) -> str:
    return link["campaign_link_id"]


def _click(link_id: str, clicked_at, **extra) -> dict:
    return {
        "tracking_id": uuid7_at(dt.datetime(2026, 9, 1)),
        "campaign_link_id": link_id,
        "clicked_at": clicked_at,
        **extra,
    }


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="microseconds") + "Z"


def _partition_days(settings, stream: str) -> list[str]:
    return sorted(p.name for p in (settings.raw_dir / stream).glob("dt=*") if p.is_dir())


def test_event_times_are_accepted_from_the_first_day_to_a_day_ahead(settings, link_id, tmp_path):
    times = [
        FIRST - US,  # 1: a microsecond too early
        FIRST,  # 2: the first accepted moment
        LATEST,  # 3: the last accepted moment
        LATEST + US,  # 4: a microsecond too late
        dt.datetime(1999, 1, 1),  # 5
        dt.datetime(1, 1, 1),  # 6
        dt.datetime(9999, 12, 31, 23, 59, 59),  # 7
        NOW,  # 8
    ]
    path = _jsonl(tmp_path / "c.jsonl", [_click(link_id, _iso(t)) for t in times])
    result = import_file(path, settings=settings, now=NOW)
    assert (result.accepted, result.rejected) == (3, 5)
    assert [(p.row, p.code, p.field) for p in result.problems] == [
        (row, "event_time_out_of_range", "clicked_at") for row in (1, 4, 5, 6, 7)
    ]
    message = result.problems[0].message
    assert "2020-01-01T00:00:00Z" in message and f"{LATEST.isoformat()}Z" in message
    stored = sorted(r["clicked_at"] for r in read_stream(settings, "clicks"))
    assert stored == [FIRST, NOW, LATEST]
    assert _partition_days(settings, "clicks") == [
        f"dt={d}" for d in (FIRST.date(), NOW.date(), LATEST.date())
    ]


@pytest.mark.parametrize(
    "text",
    [
        "0000-01-01T00:00:00",
        "-0001-01-01T00:00:00",
        "0001-01-01T00:00:00+01:00",  # year 0 once in UTC
        "9999-12-31T23:59:59-01:00",  # year 10000 once in UTC
        "+10000-01-01T00:00:00",
        "1999-12-31T23:59:59+00:00",
        "2099-01-01 00:00:00",
    ],
)
def test_the_api_refuses_far_times_by_row_and_keeps_the_others(
    client, settings, link_id, admin_headers, text
):
    good = _click(link_id, "2026-09-01T10:00:00Z")
    resp = client.post(
        "/api/admin/import",
        json={"clicks": [good, _click(link_id, text), good | {"ip_address": "192.0.2.7"}]},
        headers=admin_headers,
    )
    assert resp.status_code == 200, resp.text
    results = resp.json()["results"]["clicks"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "accepted"]
    [error] = results[1]["errors"]
    assert (error["code"], error["field"]) == ("event_time_out_of_range", "clicked_at")
    assert len(read_stream(settings, "clicks")) == 2
    assert _partition_days(settings, "clicks") == ["dt=2026-09-01"]


def _parquet(path: Path, columns: dict[str, pa.Array]) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


def test_typed_parquet_times_far_out_are_refused_not_a_crash(settings, link_id, tmp_path):
    ms = pa.array(
        [2**62, -(2**62), (NOW - dt.datetime(1970, 1, 1)) // dt.timedelta(milliseconds=1)]
    )
    days = pa.array([2**30, -(2**30), (NOW.date() - dt.date(1970, 1, 1)).days], pa.int32())
    for name, times in {
        "ms.parquet": ms.cast(pa.timestamp("ms")),
        "ms-zoned.parquet": ms.cast(pa.timestamp("ms", tz="Asia/Kolkata")),
        "date.parquet": days.cast(pa.date32()),
    }.items():
        path = _parquet(
            tmp_path / name,
            {
                "tracking_id": [uuid7_at(dt.datetime(2026, 9, 1))] * 3,
                "campaign_link_id": [link_id] * 3,
                "clicked_at": times,
            },
        )
        result = import_file(path, settings=settings, now=NOW)
        assert [(p.row, p.code) for p in result.problems] == [
            (1, "event_time_out_of_range"),
            (2, "event_time_out_of_range"),
        ], name
        assert result.accepted == 1
    stored = sorted(r["clicked_at"] for r in read_stream(settings, "clicks"))
    assert stored == [dt.datetime.combine(NOW.date(), dt.time()), NOW, NOW]


def test_imported_user_agent_and_referrer_are_cut_like_the_redirect_cuts_them(
    settings, link_id, tmp_path
):
    ua = "Mozilla/5.0 " + "é" * 1100  # characters, not bytes, are counted
    referrer = "https://example.com/?" + "😀" * 2100
    json_path = _jsonl(
        tmp_path / "c.jsonl",
        [_click(link_id, "2026-09-01T10:00:00Z", user_agent=ua, referrer=referrer)],
    )
    parquet_path = _parquet(
        tmp_path / "c.parquet",
        {
            "tracking_id": [uuid7_at(dt.datetime(2026, 9, 1))],
            "campaign_link_id": [link_id],
            "clicked_at": ["2026-09-02T10:00:00Z"],
            "user_agent": pa.array([ua], pa.large_string()),
            "referrer": pa.array([referrer], pa.string()),
        },
    )
    assert import_file(json_path, settings=settings, now=NOW).accepted == 1
    assert import_file(parquet_path, settings=settings, now=NOW).accepted == 1
    rows = read_stream(settings, "clicks")
    assert [(r["user_agent"], r["referrer"]) for r in rows] == [
        (ua[:MAX_USER_AGENT_CHARS], referrer[:MAX_REFERRER_CHARS])
    ] * 2


def test_parquet_columns_of_a_type_the_field_never_takes_are_refused_by_row(
    settings, link_id, tmp_path
):
    path = _parquet(
        tmp_path / "c.parquet",
        {
            "tracking_id": pa.array([1, None], pa.int64()),
            "campaign_link_id": [link_id, link_id],
            "event_type": ["purchase", "purchase"],
            "revenue_amount": pa.array([True, True]),
            "order_id": pa.array([1.5, None]),
            "event_data": pa.array([[1], None], pa.list_(pa.int64())),
            "converted_at": ["2026-09-02T10:00:00Z"] * 2,
        },
    )
    result = import_file(path, stream="conversions", settings=settings, now=NOW)
    assert [(p.row, p.code, p.field) for p in result.problems] == [
        (1, "invalid_uuid", "tracking_id"),
        (1, "invalid_revenue", "revenue_amount"),
        (1, "invalid_event_data", "event_data"),
        (1, "invalid_order_id", "order_id"),
        (2, "missing_field", "tracking_id"),
        (2, "invalid_revenue", "revenue_amount"),
    ]


def _conversions_parquet(path: Path, link_id: str, revenue: pa.Array) -> Path:
    n = len(revenue)
    return _parquet(
        path,
        {
            "tracking_id": [uuid7_at(dt.datetime(2026, 9, 1))] * n,
            "campaign_link_id": [link_id] * n,
            "event_type": ["purchase"] * n,
            "revenue_amount": revenue,
            "converted_at": ["2026-09-02T10:00:00Z"] * n,
        },
    )


def test_float_revenue_in_parquet_is_read_as_its_writer_meant(settings, link_id, tmp_path):
    values = [19.99, 1e308, -1e308, 5e-324, float("nan"), float("inf"), 1e16, 99999999.99]
    path = _conversions_parquet(tmp_path / "f64.parquet", link_id, pa.array(values))
    result = import_file(path, settings=settings, now=NOW)
    assert [(p.row, p.code) for p in result.problems] == [
        (2, "revenue_too_large"),
        (3, "revenue_required"),
        (4, "revenue_precision"),
        (5, "invalid_revenue"),
        (6, "invalid_revenue"),
        (7, "revenue_too_large"),
    ]
    # A Float32 19.99 is 19.99 (its own shortest text), not 19.9899997711181640625.
    path = _conversions_parquet(tmp_path / "f32.parquet", link_id, pa.array([19.99], pa.float32()))
    assert import_file(path, settings=settings, now=NOW).accepted == 1
    revenues = [r["revenue_amount"] for r in read_stream(settings, "conversions")]
    assert sorted(revenues) == [Decimal("19.99"), Decimal("19.99"), Decimal("99999999.99")]


finite = st.floats(allow_nan=False, allow_infinity=False)
# Parquet float money columns at their extremes: any finite float, cents, huge, signed
# zeros, NaN and the infinities.
float_amounts = st.lists(
    st.one_of(
        finite,
        st.floats(min_value=-1e9, max_value=1e9),
        st.integers(-(10**10), 10**10).map(lambda c: c / 100),
        st.sampled_from([float("nan"), float("inf"), -float("inf"), 0.0, -0.0]),
    ),
    min_size=1,
    max_size=30,
)


@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(amounts=float_amounts)
def test_float_revenue_gets_the_verdict_the_api_gives_the_same_float(
    settings, link_id, tmp_path_factory, amounts
):
    path = tmp_path_factory.mktemp("floats") / "c.parquet"
    tracking = uuid7_at(dt.datetime(2026, 9, 1))
    _parquet(
        path,
        {
            "tracking_id": [tracking] * len(amounts),
            "campaign_link_id": [link_id] * len(amounts),
            "event_type": ["course_enrollment"] * len(amounts),
            "revenue_amount": pa.array(amounts, pa.float64()),
            "converted_at": ["2026-09-02T10:00:00Z"] * len(amounts),
        },
    )
    result = import_file(path, settings=settings, now=NOW)
    got = {row: [] for row in range(1, len(amounts) + 1)}
    for p in result.problems:
        got[p.row].append(p.code)
    for row, amount in enumerate(amounts, start=1):
        expected = check_conversion(
            {
                "tracking_id": tracking,
                "campaign_link_id": link_id,
                "event_type": "course_enrollment",
                "revenue_amount": amount,
            },
            link_ids={link_id},
            currency=settings.currency,
            window_days=settings.attribution_window_days,
            event_time=dt.datetime(2026, 9, 2, 10),
        )
        assert got[row] == [p.code for p in expected.problems], amount


@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    amounts=float_amounts,
    times=st.lists(
        st.one_of(
            st.none(), st.datetimes(min_value=FIRST - dt.timedelta(days=2), max_value=LATEST)
        ),
        min_size=30,
        max_size=30,
    ),
)
def test_a_refunds_float_amount_and_typed_time_get_the_verdict_the_api_gives(
    settings, tmp_path_factory, amounts, times
):
    # A refund file from a back office: amounts as floats, times as a typed, nullable
    # timestamp column (a null time is the time it is imported).
    path = tmp_path_factory.mktemp("refunds") / "r.parquet"
    times = times[: len(amounts)]
    _parquet(
        path,
        {
            "order_id": [f"o-{i}" for i in range(len(amounts))],
            "amount": pa.array(amounts, pa.float64()),
            "refunded_at": pa.array(times, pa.timestamp("us")),
        },
    )
    result = import_file(path, settings=settings, now=NOW)
    got = {row: [] for row in range(1, len(amounts) + 1)}
    for p in result.problems:
        got[p.row].append(p.code)
    for row, (amount, at) in enumerate(zip(amounts, times, strict=True), start=1):
        body = {"order_id": f"o-{row - 1}", "amount": amount}
        if at is not None:
            body["refunded_at"] = at.isoformat() + "Z"
        expected = check_refund(body, currency=settings.currency, received_at=NOW)
        assert got[row] == [p.code for p in expected.problems], (amount, at)


def test_a_float_column_spells_out_each_distinct_huge_value_once(monkeypatch):
    # A million rows of the largest float: Polars' text for all, one Decimal for the value.
    from collector.ingest import importer

    spelt: list[str] = []
    plain = importer._plain_number

    def counted(text: str) -> str:
        spelt.append(text)
        return plain(text)

    monkeypatch.setattr(importer, "_plain_number", counted)
    largest = 1.7976931348623157e308
    df = pl.DataFrame({"revenue_amount": [largest, 19.99] * 500_000})
    text = importer._float_text(df, "revenue_amount")
    assert len(spelt) == 1 and float(spelt[0]) == largest
    assert text[0] == format(Decimal(repr(largest)), "f")
    assert text[1] == "19.99"


FIRST_US = (FIRST - dt.datetime(1970, 1, 1)) // US
LATEST_US = (LATEST - dt.datetime(1970, 1, 1)) // US
DAY_US = 86_400_000_000
# Each Parquet time type: its physical integer type, and its unit in microseconds.
TIME_TYPES = {
    "ns": (pa.timestamp("ns"), pa.int64(), Fraction(1, 1000)),
    "us": (pa.timestamp("us"), pa.int64(), Fraction(1)),
    "ms": (pa.timestamp("ms", tz="America/New_York"), pa.int64(), Fraction(1000)),
    "date": (pa.date32(), pa.int32(), Fraction(DAY_US)),
}


@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kind=st.sampled_from(sorted(TIME_TYPES)), data=st.data())
def test_any_typed_parquet_time_is_kept_exactly_when_in_range(
    settings, link_id, tmp_path_factory, kind, data
):
    arrow_type, physical, unit = TIME_TYPES[kind]
    bits = 32 if physical == pa.int32() else 64
    full = st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    # Values near both ends of the range, in the type's own unit.
    near = st.integers(math.floor(FIRST_US / unit) - 3, math.floor(LATEST_US / unit) + 3)
    values = data.draw(st.lists(st.one_of(full, near), min_size=1, max_size=20))
    path = _parquet(
        tmp_path_factory.mktemp("times") / "c.parquet",
        {
            "tracking_id": [uuid7_at(dt.datetime(2026, 9, 1))] * len(values),
            "campaign_link_id": [link_id] * len(values),
            "clicked_at": pa.array(values, physical).cast(arrow_type),
        },
    )
    result = import_file(path, settings=settings, now=NOW, keep_ids=True)
    kept = [row for row, _ in result.accepted_ids]
    # A nanosecond time counts by its whole microseconds, as it is stored.
    in_range = [
        i for i, v in enumerate(values, start=1) if FIRST_US <= math.floor(v * unit) <= LATEST_US
    ]
    assert kept == in_range
    assert {p.code for p in result.problems} <= {"event_time_out_of_range"}
