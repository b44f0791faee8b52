"""Problem codes and the sentences people read when an event is refused or flagged."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from collector.validation.rules import (
    MAX_EVENT_DATA_BYTES,
    MAX_EVENT_TIME_AHEAD,
    MAX_ORDER_ID_CHARS,
    MAX_REFUND_REASON_CHARS,
    MAX_REVENUE,
    MAX_TOUCHES,
    REVENUE_DECIMALS,
    REVENUE_WARNING_THRESHOLD,
)
from convtrack.core.raw_schema import EVENT_TYPES


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong (or worth a warning) with one field of one event."""

    code: str
    field: str | None
    message: str

    def as_dict(self) -> dict:
        return asdict(self)


_TYPES = ", ".join(EVENT_TYPES)
_AHEAD_HOURS = int(MAX_EVENT_TIME_AHEAD.total_seconds() // 3600)

MESSAGES: dict[str, str] = {
    "missing_field": "{field} is required",
    "invalid_uuid": (
        "{field} must be a UUID in its 36-character form, e.g. 0192f1c4-7b3a-7cde-8f00-1a2b3c4d5e6f"
    ),
    "invalid_event_type": f"event_type must be one of: {_TYPES}",
    "revenue_required": "a purchase needs a revenue_amount greater than 0, e.g. 49.99",
    "revenue_not_positive": "revenue_amount, when given, must be greater than 0 (or left out)",
    "revenue_precision": (
        f"revenue_amount may have at most {REVENUE_DECIMALS} decimal places, e.g. 19.99"
    ),
    "revenue_too_large": f"revenue_amount may be at most {MAX_REVENUE:,}",
    "invalid_revenue": (
        "revenue_amount must be a number or a numeric string in plain notation, e.g. 19.99"
    ),
    "invalid_event_data": (
        f"event_data must be a JSON object of Unicode text, at most {MAX_EVENT_DATA_BYTES} "
        'bytes, e.g. {{"plan": "pro"}}'
    ),
    "unknown_campaign_link": (
        "campaign_link_id is not a registered campaign link; use the ct_campaign_link_id "
        "the redirect added to the landing page URL"
    ),
    "currency_mismatch": "currency must be {currency} (the collector's currency) or left out",
    "attribution_window_expired": (
        "tracking_id belongs to a click more than {window} days before this event, "
        "outside the attribution window"
    ),
    "tracking_id_in_future": (
        "{field} is a UUIDv7 whose time is later than now: no click on this collector minted it"
    ),
    "invalid_order_id": (
        f"order_id must be a string of Unicode text or an integer, at most "
        f"{MAX_ORDER_ID_CHARS} characters"
    ),
    # Refunds (docs/rules.md#refunds).
    "invalid_amount": "amount must be a number or a numeric string in plain notation, e.g. 19.99",
    "amount_not_positive": "amount, the sum refunded, must be greater than 0, e.g. 19.99",
    "amount_precision": f"amount may have at most {REVENUE_DECIMALS} decimal places, e.g. 19.99",
    "amount_too_large": f"amount may be at most {MAX_REVENUE:,}",
    "invalid_reason": (
        f"reason, when given, must be a string of Unicode text of at most "
        f"{MAX_REFUND_REASON_CHARS} characters"
    ),
    "invalid_touches": (
        f"touches, when given, must be a list of at most {MAX_TOUCHES} objects "
        '{{"tracking_id": ..., "campaign_link_id": ...}}, oldest first'
    ),
    "invalid_touch": '{field} must be an object {{"tracking_id": ..., "campaign_link_id": ...}}',
    "touches_not_ending_with_own": (
        "{field}, the last touch, must be this conversion's own tracking_id and campaign_link_id"
    ),
    "invalid_text": "{field} must be a string of Unicode text (no lone surrogate escapes)",
    "invalid_timestamp": (
        "{field} must be an ISO-8601 date-time, e.g. 2026-11-01T12:30:00Z "
        "(without an offset it is read as UTC)"
    ),
    # {earliest} and {latest} are filled in when the row is checked: latest moves with now.
    "event_time_out_of_range": (
        "{field} must be between {earliest} and {latest}: not before the first day of the "
        f"pipeline's partitions, nor more than {_AHEAD_HOURS} hours ahead of the "
        "collector's clock"
    ),
    # Warnings: accepted, but worth a look.
    "newsletter_with_revenue": "a newsletter signup normally has no revenue; it was kept",
    "revenue_above_threshold": (
        f"revenue_amount is above {REVENUE_WARNING_THRESHOLD:,}; accepted, please check it"
    ),
}


def problem(code: str, field: str | None, **values: object) -> Problem:
    return Problem(code, field, MESSAGES[code].format(field=field, **values))
