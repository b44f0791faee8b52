"""JSON in and out, exactly: request bodies keep their numbers' decimal text."""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson
from starlette.responses import JSONResponse

from collector.validation.rules import is_unicode_text


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(raw: bytes | str) -> Any:
    """Parse JSON with non-integers as `Decimal`, so 1.005 stays 1.005 (never a float).

    Raises ValueError (json.JSONDecodeError is one) on anything that is not strict JSON,
    including NaN/Infinity and integers too long for Python's int parser.
    """
    return json.loads(raw, parse_float=Decimal, parse_constant=_refuse_constant)


_NUMBER = rb"(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)"


# The types orjson may give where `parse_json` gives another value: a float (for any
# non-integer, and any integer past 64 bits), and containers that may hold one.
_UNSURE = frozenset({float, dict, list})


def parse_json_lines(lines: Sequence[bytes]) -> list[Any]:
    """`parse_json` of each line, or None where it raises; several times faster.

    orjson reads the lines first. An object of orjson's is kept where it holds no value
    orjson may read otherwise (`_UNSURE`); where one of its values is a float, that one
    is read again from its own text (when it can only be that text: no escapes in the
    line, the key once). Anything else, and any line orjson refuses (a BOM, a lone
    surrogate, ...), `parse_json` reads.
    """
    loads = orjson.loads
    try:
        values = [loads(line) for line in lines]
    except orjson.JSONDecodeError:
        values = [_orjson_or_none(line) for line in lines]
    objects = [type(v) is dict for v in values]
    if all(objects):
        types = set(map(type, itertools.chain.from_iterable(map(dict.values, values))))
        if types.isdisjoint(_UNSURE):
            return values
    return [
        value
        if is_object and _UNSURE.isdisjoint(map(type, value.values()))
        else _exact(line, value if is_object else None)
        for line, value, is_object in zip(lines, values, objects, strict=True)
    ]


def _orjson_or_none(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None


def _exact(raw: bytes, value: dict | None) -> Any:
    """`parse_json(raw)` (None where it raises), given orjson's object when it read one."""
    if value is not None and _repair(raw, value):
        return value
    try:
        return parse_json(raw)
    except (ValueError, RecursionError):
        return None


def _repair(raw: bytes, value: dict) -> bool:
    """Put the exact value in place of each float directly in `value`; False when that
    cannot be done with certainty (a float nested deeper, an escape in `raw`, ...)."""
    for key, item in value.items():
        kind = type(item)
        if kind is float:
            number = _number_text(raw, key)
            if number is None or not (b"." in number or b"e" in number or b"E" in number):
                return False
            value[key] = Decimal(number.decode())
        elif (kind is dict or kind is list) and _holds_float(item):
            return False
    return True


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_]+")


@functools.lru_cache(maxsize=256)
def _number_after(key: str) -> re.Pattern[bytes]:
    return re.compile(rb'"%s"\s*:\s*' % key.encode() + _NUMBER)


def _number_text(raw: bytes, key: str) -> bytes | None:
    """The text of the number after `"key":` in `raw`, if that can only be the one."""
    if b"\\" in raw or not _PLAIN_KEY.fullmatch(key):
        return None
    found = _number_after(key).findall(raw)
    return found[0] if len(found) == 1 else None


def _holds_float(value: dict | list) -> bool:
    """Whether a float is anywhere in `value` (orjson nests deeper than Python recurses:
    too deep counts as holding one)."""
    items = value.values() if isinstance(value, dict) else value
    try:
        return any(
            type(item) is float or (isinstance(item, dict | list) and _holds_float(item))
            for item in items
        )
    except RecursionError:
        return True


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


class FastJSONResponse(JSONResponse):
    """Starlette's JSONResponse, rendered by orjson: the same JSON value (a hypothesis
    test compares them) in about a fifth of the time, which a batch answer of 100 results
    spent 6 % of the collector's CPU on (bench/README.md). What orjson refuses (integers
    past 64 bits, keys that are not text, a lone surrogate) goes to Starlette's renderer,
    which answers or fails as before. One difference, unused: orjson writes NaN and the
    infinities as null where Starlette raises; no answer of ours holds a float."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            return super().render(content)
