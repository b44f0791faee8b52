"""JSON in and out, exactly: request bodies keep their numbers' decimal text."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from collector.validation.rules import is_unicode_text


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(raw: bytes | str) -> Any:
    """Parse JSON with non-integers as `Decimal`, so 1.005 stays 1.005 (never a float).

    Raises ValueError (json.JSONDecodeError is one) on anything that is not strict JSON,
    including NaN/Infinity and integers too long for Python's int parser.
    """
    return json.loads(raw, parse_float=Decimal, parse_constant=_refuse_constant)


def _decimal_default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def compact_json(value: Any) -> str | None:
    """The compact JSON text stored for `event_data`, or None when it cannot be written
    (not JSON, or text holding lone surrogates, which UTF-8 cannot store)."""
    try:
        text = json.dumps(
            value,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
            default=_decimal_default,
        )
    except (TypeError, ValueError, RecursionError):
        return None
    return text if is_unicode_text(text) else None
