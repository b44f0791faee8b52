"""Deterministic event ids for imported rows that bring none.

The same row imported twice gets the same id, so staging's dedup on event_id makes a
second import of a file add nothing. An id is the UUIDv5 (RFC 9562: SHA-1 of the
namespace's 16 bytes and the name's UTF-8) of the row's identity key, hashed in DuckDB
and spelt in Polars for a whole batch at once: a `uuid5` call per row in Python cost
1.5 µs a row, more than validating the row.
"""

from __future__ import annotations

import functools

import duckdb
import polars as pl
import uuid_utils

# Fixed forever: changing it would give every re-imported row a new identity.
IMPORT_NAMESPACE = uuid_utils.UUID("6f1d3c1e-2b0a-5c3e-9a57-8c1f0e7d4b21")

# The fields that make a row the same event, by stream.
IDENTITY_FIELDS: dict[str, tuple[str, ...]] = {
    "clicks": ("tracking_id", "campaign_link_id", "clicked_at"),
    "conversions": (
        "tracking_id",
        "campaign_link_id",
        "event_type",
        "converted_at",
        "revenue_amount",
        "order_id",
    ),
    # A refund without a time is given the import's: such a row imported twice is two
    # refunds (docs/rules.md#refunds says to send a time or an event_id).
    "refunds": ("order_id", "amount", "refunded_at", "reason"),
}


def identity_key(stream: str) -> pl.Expr:
    """`stream|field|field|...` over normalised columns (times as ISO, money as 2 decimals)."""
    parts = [pl.lit(stream)]
    for name in IDENTITY_FIELDS[stream]:
        col = pl.col(name)
        if name.endswith("_at"):
            col = col.dt.strftime("%Y-%m-%dT%H:%M:%S%.6f")
        parts.append(col.cast(pl.String).fill_null(""))
    return pl.concat_str(parts, separator="|")


# A UUIDv5 is the first 16 bytes of the SHA-1 with the version nibble set to 5 and the
# variant bits to 10: hex digit 12 becomes 5, hex digit 16 becomes 8, 9, a or b.
_VARIANT = {digit: "89ab"[value % 4] for value, digit in enumerate("0123456789abcdef")}


def _uuid5_text(sha1_hex: pl.Expr) -> pl.Expr:
    h = sha1_hex.str
    return pl.concat_str(
        h.slice(0, 8),
        pl.lit("-"),
        h.slice(8, 4),
        pl.lit("-5"),
        h.slice(13, 3),
        pl.lit("-"),
        h.slice(16, 1).replace_strict(_VARIANT),
        h.slice(17, 3),
        pl.lit("-"),
        h.slice(20, 12),
    )


@functools.cache
def _hasher() -> duckdb.DuckDBPyConnection:
    # An in-memory database used only to compute: opening one takes ~50 ms, a cursor on
    # it (one per call, so threads never share one) ~1 ms.
    return duckdb.connect()


def deterministic_ids(keys: pl.Series) -> pl.Series:
    """`str(uuid5(IMPORT_NAMESPACE, key))` of each key, a batch at a time."""
    namespace = IMPORT_NAMESPACE.bytes.hex()
    with _hasher().cursor() as con:
        con.register("keys", keys.to_frame("key").to_arrow())
        digests = con.sql(
            f"select sha1(unhex('{namespace}') || encode(key)) as h from keys"
        ).to_arrow_table()
    hexes = pl.from_arrow(digests)
    assert isinstance(hexes, pl.DataFrame)
    return hexes.select(_uuid5_text(pl.col("h"))).to_series().rename(keys.name)
