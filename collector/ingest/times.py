"""Event times of imported rows: ISO-8601 text or timestamps, bounded, as naive UTC.

A time is held as microseconds since 1970 (an integer) until it is known to lie inside
the accepted range: Polars panics when it turns a datetime outside years 1..9999 into a
calendar date, and text such as `+10000-01-01` or a Parquet date of year 5,000,000 reads
as one. Inside the range the integer becomes a `Datetime("us")`, safe everywhere.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import partial

import polars as pl

from collector.validation.rules import MAX_EVENT_TIME_AHEAD
from convtrack.core.raw_schema import FIRST_DAY

_AWARE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%.f%z")
_NAIVE_FORMAT = "%Y-%m-%dT%H:%M:%S%.f"
_EPOCH = dt.datetime(1970, 1, 1)
_US_PER_DAY = 86_400_000_000
# Beyond these a conversion to microseconds would overflow 64 bits; values this far out
# (about 270,000 years) are clipped, which keeps them out of range without wrapping.
_MAX_MS = (2**63 - 1) // 1000 - 1
_MAX_DAYS = (2**63 - 1) // _US_PER_DAY - 1


def micros(moment: dt.datetime) -> int:
    """Microseconds since 1970 of a naive UTC datetime."""
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class EventTimeRange:
    """The event times an import accepts: from the pipeline's first day to a little ahead of now."""

    earliest: dt.datetime
    latest: dt.datetime

    @classmethod
    def as_of(cls, now: dt.datetime) -> EventTimeRange:
        return cls(dt.datetime.combine(FIRST_DAY, dt.time()), now + MAX_EVENT_TIME_AHEAD)

    def contains(self, us: pl.Expr) -> pl.Expr:
        return us.is_between(micros(self.earliest), micros(self.latest))

    def holds(self, us: int) -> bool:
        """`contains`, for one time."""
        return micros(self.earliest) <= us <= micros(self.latest)

    def describe(self) -> dict[str, str]:
        """The bounds as people read them, for the refusal message."""
        return {
            "earliest": f"{self.earliest.isoformat(timespec='seconds')}Z",
            "latest": f"{self.latest.isoformat(timespec='seconds')}Z",
        }


def epoch_micros(frame: pl.DataFrame, name: str) -> pl.Series:
    """Column `name` as UTC microseconds since 1970 (Int64); unreadable → null.

    Offsets are converted to UTC; text without an offset, and naive timestamps, are UTC.
    Text is tried in the formats' order, each later format only on the rows the earlier
    ones could not read: most files hold one format, and each attempt costs as much as
    the rest of a row's checks.
    """
    dtype = frame.schema[name]
    nulls = pl.repeat(None, frame.height, dtype=pl.Int64, eager=True).alias(name)
    if dtype != pl.String:
        typed = _typed_micros(pl.col(name), dtype)
        return nulls if typed is None else frame.select(typed).to_series()
    text = (
        pl.col(name)
        .str.strip_chars()
        .str.replace(r"[zZ]$", "+00:00")
        .str.replace(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[ t]", "${1}T")
    )
    attempts = [
        *(partial(_parsed, fmt=fmt, time_zone="UTC") for fmt in _AWARE_FORMATS),
        partial(_parsed, fmt=_NAIVE_FORMAT, time_zone=None),
    ]
    texts = frame.select(text.alias("text"))
    micros = nulls
    todo = frame[name].is_not_null()
    for attempt in attempts:
        if not todo.any():
            break
        rows = todo.arg_true()
        parsed = texts.filter(todo).select(attempt(pl.col("text"))).to_series()
        micros = micros.scatter(rows, parsed)
        todo = todo.scatter(rows, parsed.is_null())
    return micros


def _parsed(text: pl.Expr, *, fmt: str, time_zone: str | None) -> pl.Expr:
    return text.str.to_datetime(fmt, strict=False, time_unit="us", time_zone=time_zone).cast(
        pl.Int64
    )


def _typed_micros(col: pl.Expr, dtype: pl.DataType) -> pl.Expr | None:
    if isinstance(dtype, pl.Datetime):
        # A Datetime's physical value is epoch time in its unit, in UTC whatever its zone.
        physical = col.cast(pl.Int64)
        if dtype.time_unit == "ns":
            return physical // 1000
        if dtype.time_unit == "ms":
            return physical.clip(-_MAX_MS, _MAX_MS) * 1000
        return physical
    if isinstance(dtype, pl.Date):
        return col.cast(pl.Int64).clip(-_MAX_DAYS, _MAX_DAYS) * _US_PER_DAY
    return None  # a type no time can have


# The ISO-8601 forms nearly every client sends, with each part in its range: read in Python,
# in microseconds. The fields Polars would read differently from Python (a leap second, a
# year 0, a lone digit, more than 6 decimals, spaces around) do not match, and go to Polars.
_CANONICAL = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9])"
    r"(?:\.([0-9]{1,6}))?(?:([zZ])|([+-])([01][0-9]|2[0-3]):?([0-5][0-9]))?",
    re.ASCII,
)
_ASCII_DIGIT = re.compile("[0-9]")


def text_micros(text: str) -> int | None:
    """One event time given as text, as `epoch_micros` reads it (UTC microseconds since
    1970; None when it cannot be read), for the single-event API.

    The canonical forms are read here in microseconds; any other text is read by
    `epoch_micros` itself, on a one-row frame (about a millisecond), so that the API and
    the importer can never read the same text two ways.
    """
    if _ASCII_DIGIT.search(text) is None:
        return None  # every format starts with a year in ASCII digits
    match = _CANONICAL.fullmatch(text)
    if match is not None:
        year, month, day, hour, minute, second, frac, _z, sign, off_h, off_m = match.groups()
        try:
            moment = dt.datetime(
                int(year),
                int(month),
                int(day),
                int(hour),
                int(minute),
                int(second),
                int((frac or "").ljust(6, "0")),
            )
        except ValueError:
            pass  # a day the month lacks, or year 0: as Polars judges it
        else:
            # In integers: near the year 1 or 9999 the offset may cross Python's calendar.
            offset = (int(off_h or 0) * 60 + int(off_m or 0)) * 60_000_000
            return micros(moment) - offset if sign == "+" else micros(moment) + offset
    return epoch_micros(pl.DataFrame({"t": [text]}, schema={"t": pl.String}), "t")[0]
