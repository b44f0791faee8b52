"""The scalar (API) and vectorised (import) validators give the same verdict on any event."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.jsontext import parse_json
from collector.validation.columns import CONVERSION_FIELDS, rows_to_frame
from collector.validation.rules import MAX_EVENT_DATA_BYTES, MAX_REVENUE, REVENUE_WARNING_THRESHOLD
from collector.validation.scalar import check_conversion
from collector.validation.vectorised import conversion_rules
from tests.collector.conftest import uuid7_at

NOW = dt.datetime(2026, 11, 25, 12, 0, 0)
WINDOW = 30
LINK = "01a212cd-fcab-74e8-bbb7-203e94aeca9b"
OTHER_LINK = "01a212cd-fcab-74e8-bbb7-203e94aeca9c"

uuids = st.one_of(
    st.uuids(version=4).map(str),
    st.integers(0, 60).map(lambda d: uuid7_at(NOW - dt.timedelta(days=d, hours=d % 24))),
    st.just(LINK),
    st.just(LINK.upper()),
    st.just(OTHER_LINK),
    st.just("not-a-uuid"),
    st.just(LINK + "\n"),
    st.integers(),
    st.none(),
)
amounts = st.one_of(
    st.none(),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
    st.decimals(min_value=-1, max_value=MAX_REVENUE * 2, allow_nan=False, places=2),
    st.sampled_from(
        [
            MAX_REVENUE,
            MAX_REVENUE + Decimal("0.01"),
            REVENUE_WARNING_THRESHOLD,
            REVENUE_WARNING_THRESHOLD + Decimal("0.01"),
            Decimal("0.01"),
            Decimal("0"),
            Decimal("-0.00"),
            Decimal("1.005"),
            Decimal("1.50000"),
            Decimal("1E+3"),
            Decimal("1E+12"),
            Decimal("1E-7"),
        ]
    ),
    st.sampled_from(["007.10", "-0", "12,5", "1e3", ".5", "", " 1"]),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)
event_data = st.one_of(
    st.none(),
    st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=20))),
    st.integers(0, 3).map(lambda n: {"k": "x" * (MAX_EVENT_DATA_BYTES - 9 + n)}),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
)
events = st.fixed_dictionaries(
    {},
    optional={
        "event_id": uuids,
        "tracking_id": uuids,
        "campaign_link_id": uuids,
        "event_type": st.one_of(
            st.sampled_from(["purchase", "course_enrollment", "newsletter_signup", "other"]),
            st.none(),
            st.integers(),
        ),
        "revenue_amount": amounts,
        "event_data": event_data,
        "currency": st.one_of(st.sampled_from(["USD", "usd", "EUR"]), st.none(), st.integers()),
        "order_id": st.one_of(st.text(max_size=8), st.integers(), st.none(), st.booleans()),
    },
)


def _json_default(value: object) -> object:
    # Decimals go on the wire as JSON numbers (float text: exact for these few digits).
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError


def as_request_body(event: dict) -> dict:
    """The event as the API would parse it from the wire."""
    text = json.dumps(event, default=_json_default)
    return parse_json(text)


@settings(max_examples=400, deadline=None)
@given(st.lists(events, min_size=1, max_size=25))
def test_scalar_and_vectorised_validators_agree(batch):
    bodies = [as_request_body(e) for e in batch]
    scalar = [
        check_conversion(b, link_ids={LINK}, currency="USD", window_days=WINDOW, event_time=NOW)
        for b in bodies
    ]
    problems, warnings = conversion_rules(
        link_ids=[LINK], currency="USD", window_days=WINDOW, event_time=pl.lit(NOW)
    )
    frame = rows_to_frame(bodies, CONVERSION_FIELDS).select(
        problems.alias("problems"), warnings.alias("warnings")
    )
    for body, one, (vec_problems, vec_warnings) in zip(
        bodies, scalar, frame.iter_rows(), strict=True
    ):
        assert [(p["code"], p["field"]) for p in vec_problems] == [
            (p.code, p.field) for p in one.problems
        ], body
        assert [(w["code"], w["field"]) for w in vec_warnings] == [
            (w.code, w.field) for w in one.warnings
        ], body
