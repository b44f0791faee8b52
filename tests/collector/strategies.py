"""Hypothesis strategies for hostile events: the classes of input that once reached a 5xx.

Lone surrogates (JSON's "\\ud800" escapes), text at and past its bounds, UUIDv7 ids from
the future and past the year 9999, numbers whose plain notation is millions of digits,
values of the wrong JSON type; touch lists too long, nested junk in place of a touch. Shared by the validator agreement test and the HTTP tests.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from hypothesis import strategies as st

from collector.clock import utc_now
from collector.jsontext import parse_json
from collector.validation.rules import (
    MAX_EVENT_DATA_BYTES,
    MAX_ORDER_ID_CHARS,
    MAX_REFUND_REASON_CHARS,
    MAX_REVENUE,
    MAX_TOUCHES,
    REVENUE_WARNING_THRESHOLD,
    UUID7_MAX_MS,
)
from convtrack.core.raw_schema import FIRST_DAY
from tests.collector.conftest import uuid7_at

NOW = dt.datetime(2026, 11, 25, 12, 0, 0)
WINDOW = 30
LINK = "01a212cd-fcab-74e8-bbb7-203e94aeca9b"
OTHER_LINK = "01a212cd-fcab-74e8-bbb7-203e94aeca9c"

# Lone surrogates: JSON's "\ud800" escapes parse into them; no UTF-8 store can hold them.
surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
hostile_text = st.one_of(
    st.text(max_size=8),
    st.text(st.characters(codec=None), max_size=8),
    st.tuples(st.text(max_size=4), surrogates, st.text(max_size=4)).map("".join),
    st.integers(MAX_ORDER_ID_CHARS - 1, MAX_ORDER_ID_CHARS + 1).map("o".__mul__),
)


def uuid7_of_ms(ms: int) -> str:
    """A well-formed UUIDv7 text carrying `ms` (any 48-bit value, past the year 9999 too)."""
    digits = f"{ms:012x}"
    return f"{digits[:8]}-{digits[8:]}-7000-8000-000000000000"


uuids = st.one_of(
    st.uuids(version=4).map(str),
    st.integers(0, 60).map(lambda d: uuid7_at(NOW - dt.timedelta(days=d, hours=d % 24))),
    # Ids minted in the future, near and past the last representable time, at the top.
    st.integers(-2, 3).map(lambda d: uuid7_at(NOW + dt.timedelta(days=d, minutes=1))),
    st.sampled_from([0, UUID7_MAX_MS, UUID7_MAX_MS + 1, 2**48 - 1]).map(uuid7_of_ms),
    st.just("e677d21f-dc00-7000-8000-000000000000"),
    hostile_text,
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
            # Exponents whose plain notation would be millions of digits.
            Decimal("1E+30000000"),
            Decimal("-1E+30000000"),
            Decimal("1E-30000000"),
            Decimal("1.23456789012345678901234567E+25"),
            Decimal("0E+30000000"),
            Decimal("0E-30000000"),
            Decimal("0.00000"),
        ]
    ),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.sampled_from(["007.10", "-0", "12,5", "1e3", ".5", "", " 1", "0.00000", "1" * 40]),
    hostile_text,
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)
event_data = st.one_of(
    st.none(),
    st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=20))),
    st.integers(0, 3).map(lambda n: {"k": "x" * (MAX_EVENT_DATA_BYTES - 9 + n)}),
    st.dictionaries(hostile_text, hostile_text, max_size=2),
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
            hostile_text,
        ),
        "revenue_amount": amounts,
        "event_data": event_data,
        "currency": st.one_of(
            st.sampled_from(["USD", "usd", "EUR"]), st.none(), st.integers(), hostile_text
        ),
        "order_id": st.one_of(hostile_text, st.integers(), st.none(), st.booleans()),
    },
)

# Touches: well-formed ones, touches with hostile ids, and junk where a touch belongs.
touch = st.fixed_dictionaries(
    {}, optional={"tracking_id": uuids, "campaign_link_id": uuids, "extra": hostile_text}
)
good_touch = st.builds(
    lambda d, link: {"tracking_id": uuid7_at(NOW - dt.timedelta(days=d)), "campaign_link_id": link},
    st.integers(0, 60),
    st.sampled_from([LINK, OTHER_LINK]),
)
junk = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), hostile_text, amounts),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)
touch_values = st.one_of(
    st.none(),
    st.lists(st.one_of(touch, good_touch, junk), max_size=MAX_TOUCHES + 2),
    # Far too many: short ones, so that the body stays within the single-event limit.
    st.integers(MAX_TOUCHES + 1, 2000).map(lambda n: [{}] * n),
    st.dictionaries(st.sampled_from(["tracking_id", "campaign_link_id"]), uuids),
    junk,
)


@st.composite
def events_with_touches(draw: st.DrawFn) -> dict:
    """An event whose touches are hostile, or a well-formed path ending with its own ids
    (which are themselves whatever `events` drew)."""
    event = draw(events)
    if draw(st.booleans()):
        touches = draw(touch_values)
    else:
        own = {k: event.get(k) for k in ("tracking_id", "campaign_link_id")}
        touches = [*draw(st.lists(good_touch, max_size=MAX_TOUCHES - 1)), own]
    return {**event, "touches": touches}


# Event times as imports and refunds bring them: well-formed ones, and the hostile class.
FIRST = dt.datetime.combine(FIRST_DAY, dt.time())

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


# Refunds (docs/rules.md#refunds): every field hostile in its own way, and extra fields.
refund_times = st.one_of(
    st.none(),
    good_times(),
    hostile_times(),
    # At the edges of the range, as NOW's collector judges them.
    st.sampled_from(
        [
            "2019-12-31T23:59:59.999999Z",
            "2020-01-01T00:00:00Z",
            "2020-01-01T00:00:00+00:01",
            (NOW + dt.timedelta(days=1)).isoformat(),
            (NOW + dt.timedelta(days=1, microseconds=1)).isoformat(),
            "2026-11-01T23:59:60Z",
            "0000-02-29T00:00:00",
            "+10000-01-01T00:00:00",
        ]
    ),
)
reasons = st.one_of(
    st.none(),
    hostile_text,
    st.integers(MAX_REFUND_REASON_CHARS - 1, MAX_REFUND_REASON_CHARS + 1).map("r".__mul__),
    st.integers(MAX_REFUND_REASON_CHARS - 1, MAX_REFUND_REASON_CHARS + 1).map("é".__mul__),
    st.integers(),
    junk,
)
refunds = st.fixed_dictionaries(
    {},
    optional={
        "event_id": uuids,
        "order_id": st.one_of(
            hostile_text, st.integers(), st.none(), st.booleans(), st.just(""), junk
        ),
        "amount": st.one_of(amounts, junk, st.sampled_from(["NaN", "Infinity", "-0.001"])),
        "currency": st.one_of(st.sampled_from(["USD", "usd", "EUR"]), st.none(), hostile_text),
        "reason": reasons,
        "refunded_at": refund_times,
        "note": junk,
    },
)

# Refunds that pass, with any of their optional parts.
good_refunds = st.fixed_dictionaries(
    {
        "order_id": st.one_of(
            st.text(st.characters(codec="utf-8"), min_size=1, max_size=MAX_ORDER_ID_CHARS),
            st.integers(0, 10**12),
        ),
        "amount": st.one_of(
            st.decimals(min_value=Decimal("0.01"), max_value=MAX_REVENUE, places=2),
            st.decimals(min_value=Decimal("0.01"), max_value=MAX_REVENUE, places=2).map(str),
        ),
    },
    optional={
        "event_id": st.uuids().map(str),
        "currency": st.sampled_from(["USD", "usd"]),
        "reason": st.text(st.characters(codec="utf-8"), max_size=MAX_REFUND_REASON_CHARS),
        "refunded_at": st.one_of(st.none(), good_times()),
    },
)


def wire_text(value: object) -> str:
    """JSON text as a client would send it: lone surrogates as their escapes, a Decimal
    as the JSON number of its own text (1E+30000000 stays that, never a float)."""
    amounts: list[Decimal] = []

    def mark(o: object) -> str:
        if isinstance(o, Decimal):
            amounts.append(o)
            return f"\u0000amount{len(amounts) - 1}\u0000"
        raise TypeError(type(o).__name__)

    text = json.dumps(value, default=mark)
    for i, amount in enumerate(amounts):
        text = text.replace(json.dumps(f"\u0000amount{i}\u0000"), str(amount))
    return text


def as_request_body(event: dict) -> dict:
    """The event as the API parses it from the wire."""
    return parse_json(wire_text(event))
