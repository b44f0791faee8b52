"""Event times of imported rows: ISO-8601 text or timestamps, to naive UTC microseconds."""

from __future__ import annotations

import polars as pl

_AWARE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%.f%z")
_NAIVE_FORMAT = "%Y-%m-%dT%H:%M:%S%.f"


def parse_utc(name: str, dtype: pl.DataType) -> pl.Expr:
    """Naive UTC datetimes; offsets converted to UTC, naive values taken as UTC; bad → null."""
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            col = col.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        return col.cast(pl.Datetime("us"))
    if isinstance(dtype, pl.Date):
        return col.cast(pl.Datetime("us"))
    if dtype != pl.String:
        return pl.lit(None, dtype=pl.Datetime("us"))
    text = (
        col.str.strip_chars()
        .str.replace(r"[zZ]$", "+00:00")
        .str.replace(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[ t]", "${1}T")
    )
    aware = [
        text.str.to_datetime(
            fmt, strict=False, time_unit="us", time_zone="UTC"
        ).dt.replace_time_zone(None)
        for fmt in _AWARE_FORMATS
    ]
    naive = text.str.to_datetime(_NAIVE_FORMAT, strict=False, time_unit="us")
    return pl.coalesce([*aware, naive])
