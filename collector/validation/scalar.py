"""The scalar validator: one conversion or refund as parsed from a request body, in
microseconds.

Keep it in step with `vectorised.py` and the importer: property tests check they give
the same codes, fields and order for any event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from collector.ingest.times import EventTimeRange, text_micros
from collector.jsontext import compact_json
from collector.validation.problems import Problem, problem
from collector.validation.rules import (
    MAX_EVENT_DATA_BYTES,
    MAX_EVENT_TIME_AHEAD,
    MAX_ORDER_ID_CHARS,
    MAX_REFUND_REASON_CHARS,
    MAX_REVENUE,
    MAX_TOUCHES,
    NUMERIC_RE,
    REVENUE_DECIMALS,
    REVENUE_WARNING_THRESHOLD,
    UUID7_MAX_MS,
    UUID_RE,
    is_unicode_text,
)
from convtrack.core.raw_schema import EVENT_TYPES, touches_json

_EPOCH = dt.datetime(1970, 1, 1)
_DAY = dt.timedelta(days=1)
_CENT = Decimal("0.01")


@dataclass(slots=True)
class ConversionCheck:
    """Problems (refusal), warnings, and the normalised values of an accepted event."""

    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)


def is_uuid(value: object) -> bool:
    return isinstance(value, str) and UUID_RE.fullmatch(value) is not None


def is_uuid7(uuid_text: str) -> bool:
    return uuid_text[14] == "7" and uuid_text[19] in "89abAB"


def uuid7_time(uuid_text: str) -> dt.datetime | None:
    """The click time inside a UUIDv7 (RFC 9562: 48-bit Unix ms); None for other versions
    and for times past the year 9999."""
    if not is_uuid7(uuid_text):
        return None
    ms = int(uuid_text[:8] + uuid_text[9:13], 16)
    if ms > UUID7_MAX_MS:
        return None
    return _EPOCH + dt.timedelta(milliseconds=ms)


def decimal_places(amount: Decimal) -> int:
    """Decimals that matter: 1.50 has one, 100 and 0.000 none (trailing zeros are not
    precision). Reads the digits, never expands the exponent (1E-30000000 costs nothing)."""
    _, digits, exponent = amount.as_tuple()
    if not isinstance(exponent, int) or exponent >= 0 or not any(digits):
        return 0
    places = -exponent
    last = len(digits) - 1
    while places and digits[last] == 0:  # a non-zero digit stops it (any() above)
        places -= 1
        last -= 1
    return places


def parse_revenue(value: object) -> Decimal | None:
    """A JSON number or numeric string as Decimal; None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, float):
        return Decimal(repr(value)) if value == value and abs(value) != float("inf") else None
    if isinstance(value, str) and NUMERIC_RE.fullmatch(value):
        return Decimal(value)
    return None


def _uuid_field(name: str, value: object, required: bool, out: list[Problem]) -> str | None:
    if value is None:
        if required:
            out.append(problem("missing_field", name))
        return None
    if not is_uuid(value):
        out.append(problem("invalid_uuid", name))
        return None
    return value.lower()  # type: ignore[union-attr]


def _money(name: str, code: str, value: object, out: list[Problem]) -> Decimal | None:
    """A sum of money as the raw schema holds it (decimal(10,2)): `invalid_<code>`,
    `<code>_precision`, `<code>_too_large`; whether it must be positive is the caller's."""
    amount = parse_revenue(value)
    if amount is None:
        out.append(problem(f"invalid_{code}", name))
        return None
    if decimal_places(amount) > REVENUE_DECIMALS:
        out.append(problem(f"{code}_precision", name))
    if amount > MAX_REVENUE:
        out.append(problem(f"{code}_too_large", name))
    return amount


def _order_id(value: object, out: list[Problem]) -> str | None:
    """A merchant's order id: a string or an integer, at most MAX_ORDER_ID_CHARS, as text."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        out.append(problem("invalid_order_id", "order_id"))
        return None
    text = str(value)
    if len(text) > MAX_ORDER_ID_CHARS or not is_unicode_text(text):
        out.append(problem("invalid_order_id", "order_id"))
    return text


def _currency(value: object, currency: str, out: list[Problem]) -> None:
    """A currency, when given, must be the collector's (case-insensitive)."""
    if value is not None and (not isinstance(value, str) or value.upper() != currency):
        out.append(problem("currency_mismatch", "currency", currency=currency))


def _in_future(uuid_text: str, latest: dt.datetime) -> bool:
    """A UUIDv7 whose time is past `latest`, or past the year 9999: no click minted it."""
    if not is_uuid7(uuid_text):
        return False
    clicked = uuid7_time(uuid_text)
    return clicked is None or clicked > latest


def check_touches(
    value: object,
    *,
    tracking_id: str | None,
    campaign_link_id: str | None,
    latest: dt.datetime,
    out: list[Problem],
) -> list[dict[str, str]] | None:
    """The touches of a conversion (docs/rules.md#touches), normalised; their problems go
    to `out`, each naming its touch (`touches[3].tracking_id`).

    Each touch's ids are checked as the conversion's own are at the door: UUIDs, a UUIDv7
    tracking id not from the future (`latest` is the collector's clock plus the allowance).
    Whether a touch's click exists, is of that link and within the window the warehouse
    decides, and drops the touch if not. The last touch must be the conversion's own ids
    (`tracking_id`, `campaign_link_id`: normalised, None when themselves refused). An
    absent or empty list is no touches: the conversion's own click is its one touch.
    """
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_TOUCHES:
        out.append(problem("invalid_touches", "touches"))
        return None
    before = len(out)
    touches = []
    for i, touch in enumerate(value):
        name = f"touches[{i}]"
        if not isinstance(touch, dict):
            out.append(problem("invalid_touch", name))
            continue
        touch_id = _uuid_field(f"{name}.tracking_id", touch.get("tracking_id"), True, out)
        if touch_id is not None and _in_future(touch_id, latest):
            out.append(problem("tracking_id_in_future", f"{name}.tracking_id"))
        link_id = _uuid_field(f"{name}.campaign_link_id", touch.get("campaign_link_id"), True, out)
        touches.append({"tracking_id": touch_id, "campaign_link_id": link_id})
    if not touches or len(out) > before:
        return None
    own = {"tracking_id": tracking_id, "campaign_link_id": campaign_link_id}
    if None not in own.values() and touches[-1] != own:
        out.append(problem("touches_not_ending_with_own", f"touches[{len(touches) - 1}]"))
        return None
    return touches  # type: ignore[return-value]


def check_conversion(
    body: dict[str, Any],
    *,
    link_ids: Container[str],
    currency: str,
    window_days: int,
    event_time: dt.datetime,
    now: dt.datetime | None = None,
    link_windows: Mapping[str, int] | None = None,
) -> ConversionCheck:
    """Apply every validation rule to one conversion; `event_time` is naive UTC.

    `now` is the collector's clock (default: `event_time`, as for live events).
    `link_windows`: the links with their own window (id -> days); the others have
    `window_days` (docs/rules.md#windows-per-link).
    """
    check = ConversionCheck()
    out = check.problems
    get = body.get

    event_id = _uuid_field("event_id", get("event_id"), False, out)

    latest = (event_time if now is None else now) + MAX_EVENT_TIME_AHEAD
    tracking_id = _uuid_field("tracking_id", get("tracking_id"), True, out)
    expiry_at = len(out)  # the window is the link's: judged once the link id is read
    clicked = None
    if tracking_id is not None:
        clicked = uuid7_time(tracking_id)
        if _in_future(tracking_id, latest):
            out.append(problem("tracking_id_in_future", "tracking_id"))
            clicked = None

    link_id = _uuid_field("campaign_link_id", get("campaign_link_id"), True, out)
    if clicked is not None:
        window = (link_windows or {}).get(link_id, window_days)
        if (event_time - clicked) // _DAY > window:
            out.insert(
                expiry_at, problem("attribution_window_expired", "tracking_id", window=window)
            )
    if link_id is not None and link_id not in link_ids:
        out.append(problem("unknown_campaign_link", "campaign_link_id"))

    event_type = get("event_type")
    if event_type is None:
        out.append(problem("missing_field", "event_type"))
    elif not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        out.append(problem("invalid_event_type", "event_type"))
        event_type = None

    raw_revenue = get("revenue_amount")
    amount = None if raw_revenue is None else _money("revenue_amount", "revenue", raw_revenue, out)
    if event_type == "purchase":
        if raw_revenue is None or (amount is not None and amount <= 0):
            out.append(problem("revenue_required", "revenue_amount"))
    elif event_type is not None and amount is not None and amount <= 0:
        out.append(problem("revenue_not_positive", "revenue_amount"))

    raw_data = get("event_data")
    event_data = None
    if raw_data is not None:
        event_data = compact_json(raw_data) if isinstance(raw_data, dict) else None
        if event_data is None or len(event_data.encode()) > MAX_EVENT_DATA_BYTES:
            out.append(problem("invalid_event_data", "event_data"))

    _currency(get("currency"), currency, out)
    order_id = get("order_id")
    if order_id is not None:
        order_id = _order_id(order_id, out)

    touches = check_touches(
        get("touches"),
        tracking_id=tracking_id,
        campaign_link_id=link_id,
        latest=latest,
        out=out,
    )

    if out:
        return check

    if event_type == "newsletter_signup" and amount is not None:
        check.warnings.append(problem("newsletter_with_revenue", "revenue_amount"))
    if amount is not None and amount > REVENUE_WARNING_THRESHOLD:
        check.warnings.append(problem("revenue_above_threshold", "revenue_amount"))
    check.values = {
        "event_id": event_id,
        "tracking_id": tracking_id,
        "campaign_link_id": link_id,
        "event_type": event_type,
        "revenue_amount": None if amount is None else amount.quantize(_CENT),
        "currency": currency,
        "order_id": order_id,
        "event_data": event_data,
        "touches": touches_json(touches),
    }
    return check


@dataclass(slots=True)
class RefundCheck:
    """Problems (refusal), and the normalised values of an accepted refund."""

    problems: list[Problem] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)


def _event_time(
    name: str, value: object, times: EventTimeRange, out: list[Problem]
) -> dt.datetime | None:
    """An optional event time given as ISO-8601 text, as the importer reads it
    (collector/ingest/times.py): naive UTC, within `times`."""
    if value is None:
        return None
    us = text_micros(value) if isinstance(value, str) and is_unicode_text(value) else None
    if us is None:
        out.append(problem("invalid_timestamp", name))
        return None
    if not times.holds(us):
        out.append(problem("event_time_out_of_range", name, **times.describe()))
        return None
    return _EPOCH + dt.timedelta(microseconds=us)


def check_refund(
    body: dict[str, Any],
    *,
    currency: str,
    received_at: dt.datetime,
) -> RefundCheck:
    """Apply every validation rule to one refund (docs/rules.md#refunds); `received_at` is
    naive UTC, the collector's clock, and the refund's time when it names none.

    Whether the order exists is not the collector's to judge: the warehouse is the
    authority, and orders may be imported later.
    """
    check = RefundCheck()
    out = check.problems
    get = body.get

    # The time first, as the importer checks every row's time before its fields.
    times = EventTimeRange.as_of(received_at)
    refunded_at = _event_time("refunded_at", get("refunded_at"), times, out)
    event_id = _uuid_field("event_id", get("event_id"), False, out)

    order_id = get("order_id")
    if order_id is None or order_id == "":
        out.append(problem("missing_field", "order_id"))
    else:
        order_id = _order_id(order_id, out)

    raw_amount = get("amount")
    amount = None
    if raw_amount is None:
        out.append(problem("missing_field", "amount"))
    else:
        amount = _money("amount", "amount", raw_amount, out)
        if amount is not None and amount <= 0:
            out.append(problem("amount_not_positive", "amount"))

    _currency(get("currency"), currency, out)

    reason = get("reason")
    if reason is not None and (
        not isinstance(reason, str)
        or len(reason) > MAX_REFUND_REASON_CHARS
        or not is_unicode_text(reason)
    ):
        out.append(problem("invalid_reason", "reason"))

    if out:
        return check
    assert amount is not None
    check.values = {
        "event_id": event_id,
        "order_id": order_id,
        "amount": amount.quantize(_CENT),
        "currency": currency,
        "reason": reason,
        "refunded_at": received_at if refunded_at is None else refunded_at,
    }
    return check
