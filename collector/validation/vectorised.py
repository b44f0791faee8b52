"""The vectorised validator: the validation rules as Polars expressions, for imports.

Input: the text columns of `columns.py`, plus the event's time. Output: the same
problem codes, fields and order as `scalar.check_conversion` (and, with the importer's
time checks before them, `scalar.check_refund`): each rule as a `Check` (a
Boolean expression with its code and field), and, for those who want them, one list of
problems per row.

The importer reads the checks as Boolean columns and lists problems only for the rows
refused: a list of structs for every row costs tens of microseconds a row in Polars.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from collector.validation.rules import (
    MAX_EVENT_DATA_BYTES,
    MAX_EVENT_TIME_AHEAD,
    MAX_ORDER_ID_CHARS,
    MAX_REFUND_REASON_CHARS,
    MAX_REVENUE,
    NUMERIC_PATTERN,
    REVENUE_DECIMALS,
    REVENUE_WARNING_THRESHOLD,
    UUID7_MAX_MS,
    UUID_PATTERN,
)
from convtrack.core.raw_schema import EVENT_TYPES

PROBLEM = pl.Struct({"code": pl.String, "field": pl.String})
PROBLEM_LIST = pl.List(PROBLEM)


def _one_list(values: Iterable[str]) -> pl.Expr:
    # One list to test membership in (a bare Series would be read element-wise).
    return pl.lit(pl.Series(list(values), dtype=pl.String).implode())


def _flag(name: str) -> pl.Expr:
    return pl.col(f"_bad_{name}")


@dataclass(frozen=True, slots=True)
class Check:
    """One rule: problem `code` on `field` where `fires` is true (null: it does not)."""

    code: str
    field: str | None
    fires: pl.Expr

    def fired(self) -> pl.Expr:
        return self.fires.fill_null(False)


def _rule(code: str, field: str | None, condition: pl.Expr) -> Check:
    return Check(code, field, condition)


def problem_list(checks: Iterable[Check]) -> pl.Expr:
    """The checks that fire on a row, in order, as a list of {code, field}."""
    return pl.concat_list(
        [
            pl.when(c.fired()).then(
                pl.struct(code=pl.lit(c.code), field=pl.lit(c.field, dtype=pl.String))
            )
            for c in checks
        ]
    ).list.drop_nulls()


def valid_uuid(name: str) -> pl.Expr:
    return pl.col(name).str.contains(UUID_PATTERN) & ~_flag(name)


def uuid_rules(name: str, *, required: bool) -> list[Check]:
    col = pl.col(name)
    rules = []
    if required:
        rules.append(_rule("missing_field", name, col.is_null() & ~_flag(name)))
    rules.append(_rule("invalid_uuid", name, _flag(name) | ~col.str.contains(UUID_PATTERN)))
    return rules


def money_rules(name: str, code: str) -> tuple[list[Check], pl.Expr, _Amount]:
    """The rules of a sum of money as the raw schema holds it (decimal(10,2)):
    `invalid_<code>`, `<code>_precision`, `<code>_too_large`; with whether the text parsed
    and its `_Amount`, for the caller's rules on its sign."""
    text = pl.col(name)
    amount = _Amount(text)
    parsed = text.str.contains(NUMERIC_PATTERN) & ~_flag(name)
    rules = [
        _rule(f"invalid_{code}", name, _flag(name) | (text.is_not_null() & ~parsed)),
        _rule(f"{code}_precision", name, parsed & (amount.decimals > REVENUE_DECIMALS)),
        _rule(f"{code}_too_large", name, parsed & amount.greater_than(MAX_REVENUE)),
    ]
    return rules, parsed, amount


def order_id_rule() -> Check:
    """A merchant's order id: at most MAX_ORDER_ID_CHARS (its type is flagged on reading)."""
    return _rule(
        "invalid_order_id",
        "order_id",
        _flag("order_id") | (pl.col("order_id").str.len_chars() > MAX_ORDER_ID_CHARS),
    )


def currency_rule(currency: str) -> Check:
    """A currency, when given, must be the collector's (case-insensitive)."""
    cur = pl.col("currency")
    return _rule(
        "currency_mismatch",
        "currency",
        _flag("currency") | (cur.is_not_null() & (cur.str.to_uppercase() != currency)),
    )


def is_uuid7(name: str) -> pl.Expr:
    col = pl.col(name)
    return (col.str.slice(14, 1) == "7") & col.str.slice(19, 1).str.contains("^[89abAB]$")


def uuid7_time(name: str) -> pl.Expr:
    """The 48-bit millisecond timestamp of a UUIDv7 as a datetime; null for other versions
    and for times past the year 9999 (as the scalar validator)."""
    col = pl.col(name)
    ms = pl.concat_str([col.str.slice(0, 8), col.str.slice(9, 4)]).str.to_integer(
        base=16, strict=False
    )
    return pl.when(is_uuid7(name) & (ms <= UUID7_MAX_MS)).then(
        pl.from_epoch(ms, time_unit="ms").cast(pl.Datetime("us"))
    )


def known_link(name: str, link_ids: Iterable[str]) -> pl.Expr:
    return pl.col(name).str.to_lowercase().is_in(_one_list(link_ids))


def _split_threshold(value: Decimal) -> tuple[str, str]:
    whole, _, frac = format(value, "f").partition(".")
    return whole.lstrip("0"), frac.rstrip("0")


class _Amount:
    """A numeric text column taken apart: sign, integer digits, significant decimals."""

    def __init__(self, col: pl.Expr):
        self.negative = col.str.starts_with("-")
        # Leading zeros of the integer part and trailing zeros of the decimals carry no value.
        self.whole = col.str.extract(r"^-?0*([0-9]*)", 1)
        self.frac = col.str.extract(r"\.([0-9]*?)0*$", 1).fill_null("")
        self.decimals = self.frac.str.len_chars()
        self.positive = ~self.negative & ((self.whole != "") | (self.frac != ""))

    def greater_than(self, limit: Decimal) -> pl.Expr:
        # Digit strings of equal length compare like the numbers they spell.
        whole, frac = _split_threshold(limit)
        n = self.whole.str.len_chars()
        return ~self.negative & (
            (n > len(whole))
            | (
                (n == len(whole))
                & ((self.whole > whole) | ((self.whole == whole) & (self.frac > frac)))
            )
        )


def link_window(window_days: int, link_windows: Mapping[str, int] | None) -> pl.Expr:
    """Each row's attribution window: its link's own, else `window_days`
    (docs/rules.md#windows-per-link)."""
    if not link_windows:
        return pl.lit(window_days)
    return (
        pl.col("campaign_link_id")
        .str.to_lowercase()
        .replace_strict(dict(link_windows), default=window_days, return_dtype=pl.Int64)
    )


def conversion_checks(
    *,
    link_ids: Iterable[str],
    currency: str,
    window_days: int,
    event_time: pl.Expr,
    now: dt.datetime,
    link_windows: Mapping[str, int] | None = None,
) -> tuple[list[Check], list[Check]]:
    """(problems, warnings) checks over the conversion text columns; `now` is the
    collector's clock (naive UTC); `link_windows` the links with their own window."""
    event_type = pl.col("event_type")
    revenue = pl.col("revenue_amount")
    event_data = pl.col("event_data")

    clicked = uuid7_time("tracking_id")
    in_future = (
        valid_uuid("tracking_id")
        & is_uuid7("tracking_id")
        & (clicked.is_null() | (clicked > pl.lit(now + MAX_EVENT_TIME_AHEAD)))
    )
    expired = (
        valid_uuid("tracking_id")
        & clicked.is_not_null()
        & ~in_future
        & ((event_time - clicked).dt.total_days() > link_window(window_days, link_windows))
    )
    known_type = event_type.is_in(_one_list(EVENT_TYPES)) & ~_flag("event_type")
    revenue_rules, parsed, amount = money_rules("revenue_amount", "revenue")
    revenue_absent = revenue.is_null() & ~_flag("revenue_amount")
    is_purchase = known_type & (event_type == "purchase")

    problems = [
        *uuid_rules("event_id", required=False),
        *uuid_rules("tracking_id", required=True),
        _rule("tracking_id_in_future", "tracking_id", in_future),
        _rule("attribution_window_expired", "tracking_id", expired),
        *uuid_rules("campaign_link_id", required=True),
        _rule(
            "unknown_campaign_link",
            "campaign_link_id",
            valid_uuid("campaign_link_id") & ~known_link("campaign_link_id", link_ids),
        ),
        _rule("missing_field", "event_type", event_type.is_null() & ~_flag("event_type")),
        _rule(
            "invalid_event_type",
            "event_type",
            _flag("event_type") | (event_type.is_not_null() & ~known_type),
        ),
        *revenue_rules,
        _rule(
            "revenue_required",
            "revenue_amount",
            is_purchase & (revenue_absent | (parsed & ~amount.positive)),
        ),
        _rule(
            "revenue_not_positive",
            "revenue_amount",
            known_type & ~is_purchase & parsed & ~amount.positive,
        ),
        _rule(
            "invalid_event_data",
            "event_data",
            _flag("event_data")
            | (
                event_data.is_not_null()
                & (
                    ~event_data.str.starts_with("{")
                    | (event_data.str.len_bytes() > MAX_EVENT_DATA_BYTES)
                )
            ),
        ),
        currency_rule(currency),
        order_id_rule(),
    ]
    warnings = [
        _rule(
            "newsletter_with_revenue",
            "revenue_amount",
            known_type & (event_type == "newsletter_signup") & parsed,
        ),
        _rule(
            "revenue_above_threshold",
            "revenue_amount",
            parsed & amount.greater_than(REVENUE_WARNING_THRESHOLD),
        ),
    ]
    return problems, warnings


def conversion_rules(
    *,
    link_ids: Iterable[str],
    currency: str,
    window_days: int,
    event_time: pl.Expr,
    now: dt.datetime,
    link_windows: Mapping[str, int] | None = None,
) -> tuple[pl.Expr, pl.Expr]:
    """(problems, warnings) list expressions of `conversion_checks`."""
    problem_checks, warning_checks = conversion_checks(
        link_ids=link_ids,
        currency=currency,
        window_days=window_days,
        event_time=event_time,
        now=now,
        link_windows=link_windows,
    )
    problems = problem_list(problem_checks)
    # A refused event carries no warnings, as in the scalar validator.
    warnings = pl.when(problems.list.len() == 0)
    warnings = warnings.then(problem_list(warning_checks)).otherwise(pl.lit([], PROBLEM_LIST))
    return problems, warnings


def click_checks(*, link_ids: Iterable[str]) -> list[Check]:
    """Problems of imported clicks (their time is checked by the importer)."""
    return [
        *uuid_rules("event_id", required=False),
        *uuid_rules("tracking_id", required=True),
        *uuid_rules("campaign_link_id", required=True),
        _rule(
            "unknown_campaign_link",
            "campaign_link_id",
            valid_uuid("campaign_link_id") & ~known_link("campaign_link_id", link_ids),
        ),
        *(
            _rule("invalid_text", name, _flag(name))
            for name in ("ip_address", "user_agent", "referrer")
        ),
    ]


def refund_checks(*, currency: str) -> list[Check]:
    """Problems of imported refunds (docs/rules.md#refunds); their time is checked by the
    importer, before these, as the scalar validator checks it first."""
    order_id = pl.col("order_id")
    amount_rules, parsed, amount = money_rules("amount", "amount")
    reason = pl.col("reason")
    return [
        *uuid_rules("event_id", required=False),
        _rule(
            "missing_field",
            "order_id",
            (order_id.is_null() | (order_id == "")) & ~_flag("order_id"),
        ),
        order_id_rule(),
        _rule("missing_field", "amount", pl.col("amount").is_null() & ~_flag("amount")),
        *amount_rules,
        _rule("amount_not_positive", "amount", parsed & ~amount.positive),
        currency_rule(currency),
        _rule(
            "invalid_reason",
            "reason",
            _flag("reason") | (reason.str.len_chars() > MAX_REFUND_REASON_CHARS),
        ),
    ]
