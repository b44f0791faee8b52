"""Bring JSON values (API bodies, JSON lines) into the text columns the vectorised rules read.

Every field becomes a String column holding the value's text, plus a `_bad_<field>`
Boolean that says the JSON value had a type the field can never take (a list where a
UUID belongs, `true` as revenue, a string as event_data). That keeps the JSON-type
decisions the scalar validator makes per value, and leaves all the rules to Polars.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import polars as pl

from collector.jsontext import compact_json
from collector.validation.rules import REVENUE_DECIMALS, is_unicode_text
from collector.validation.scalar import decimal_places

_BAD = object()


def _text(value: Any) -> Any:
    # Lone surrogates cannot become a Polars (UTF-8) string: flagged like a wrong type.
    return value if isinstance(value, str) and is_unicode_text(value) else _BAD


# Plain notation grows with the exponent (1E+30000000 is 30M digits). Past these
# exponents no rule's verdict changes, so such a number is written as a short stand-in
# with the same sign, the same "too large" / "too precise" verdicts.
_HUGE_EXPONENT = 20


def plain_number(value: Decimal) -> str:
    """A finite Decimal in plain notation, or a short stand-in the rules judge alike."""
    if not value.is_zero() and abs(value.adjusted()) > _HUGE_EXPONENT:
        sign = "-" if value.is_signed() else ""
        if value.adjusted() < 0:
            return f"{sign}0.{'0' * _HUGE_EXPONENT}1"
        precise = ".001" if decimal_places(value) > REVENUE_DECIMALS else ""
        return f"{sign}1{'0' * _HUGE_EXPONENT}{precise}"
    return format(value, "f")


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        return _BAD
    if isinstance(value, str):
        return value if is_unicode_text(value) else _BAD
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return plain_number(value) if value.is_finite() else _BAD
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f") if math.isfinite(value) else _BAD
    return _BAD


def _order(value: Any) -> Any:
    if isinstance(value, bool):
        return _BAD
    if isinstance(value, int):
        return str(value)
    return _text(value)


def _object(value: Any) -> Any:
    text = compact_json(value) if isinstance(value, dict) else None
    return _BAD if text is None else text


# How each field's JSON value becomes text.
CONVERSION_FIELDS: dict[str, Callable[[Any], Any]] = {
    "event_id": _text,
    "tracking_id": _text,
    "campaign_link_id": _text,
    "event_type": _text,
    "revenue_amount": _number,
    "currency": _text,
    "order_id": _order,
    "event_data": _object,
    "converted_at": _text,
}

CLICK_FIELDS: dict[str, Callable[[Any], Any]] = {
    "event_id": _text,
    "tracking_id": _text,
    "campaign_link_id": _text,
    "clicked_at": _text,
    "ip_address": _text,
    "user_agent": _text,
    "referrer": _text,
}


REFUND_FIELDS: dict[str, Callable[[Any], Any]] = {
    "event_id": _text,
    "order_id": _order,
    "amount": _number,
    "currency": _text,
    "reason": _text,
    "refunded_at": _text,
}


def touches_text(value: Any) -> Any:
    """A conversion's `touches` as JSON text, which the importer reads back whole and checks
    with the scalar rules (a list of small objects has no column shape to vectorise).
    Lone surrogates are kept as their escapes, so the check sees what the API would; a
    value that is no list is `_BAD`."""
    if not isinstance(value, list):
        return _BAD
    try:
        return json.dumps(value, ensure_ascii=True, default=str)
    except (TypeError, ValueError, RecursionError):
        return _BAD


def touches_column(rows: Iterable[Any]) -> tuple[pl.Series, pl.Series]:
    """(touches, _bad_touches) of JSON rows, as `rows_to_frame` gives the other fields."""
    values = [row.get("touches") if isinstance(row, dict) else None for row in rows]
    texts, bad = _texts("touches", values, touches_text)
    return texts, pl.Series("_bad_touches", bad, dtype=pl.Boolean)


def rows_to_frame(rows: Iterable[dict], fields: dict[str, Callable[[Any], Any]]) -> pl.DataFrame:
    """Text columns and `_bad_` flags for `fields` (missing keys and nulls are null)."""
    rows = [row if isinstance(row, dict) else {} for row in rows]
    columns: dict[str, pl.Series] = {}
    for name, to_text in fields.items():
        values = list(map(dict.get, rows, itertools.repeat(name)))
        texts, bad = _plain_texts(name, values) or _texts(name, values, to_text)
        columns[name] = texts
        columns[f"_bad_{name}"] = pl.Series(f"_bad_{name}", bad, dtype=pl.Boolean)
    return pl.DataFrame(columns, height=len(rows))


_PLAIN = frozenset({str, type(None)})


def _plain_texts(name: str, values: list[Any]) -> tuple[pl.Series, list[bool]] | None:
    """A column of strings and nulls only, as every field reads it: the strings as they
    are, none bad. None when the column holds anything else, or a lone surrogate (which
    Polars refuses), for `_texts` to judge value by value."""
    if not set(map(type, values)) <= _PLAIN:
        return None
    try:
        texts = pl.Series(name, values, dtype=pl.String)
    except UnicodeEncodeError:
        return None
    return texts, [False] * len(values)


def _texts(
    name: str, values: list[Any], to_text: Callable[[Any], Any]
) -> tuple[pl.Series, list[bool]]:
    texts: list[str | None] = []
    bad: list[bool] = []
    for value in values:
        text = None if value is None else to_text(value)
        if text is _BAD:
            texts.append(None)
            bad.append(True)
        else:
            texts.append(text)
            bad.append(False)
    return pl.Series(name, texts, dtype=pl.String), bad


def ensure_fields(df: pl.DataFrame, fields: Iterable[str]) -> pl.DataFrame:
    """Add the absent columns (null) and `_bad_` flags (False) a frame from a file lacks."""
    missing = []
    for name in fields:
        if name not in df.columns:
            missing.append(pl.lit(None, dtype=pl.String).alias(name))
        if f"_bad_{name}" not in df.columns:
            missing.append(pl.lit(False).alias(f"_bad_{name}"))
    return df.with_columns(missing) if missing else df
