"""Deterministic event ids for imported rows that bring none.

The same row imported twice gets the same id, so staging's dedup on event_id makes a
second import of a file add nothing.
"""

from __future__ import annotations

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


def deterministic_ids(keys: pl.Series) -> pl.Series:
    uuid5 = uuid_utils.uuid5
    return pl.Series(
        keys.name, [str(uuid5(IMPORT_NAMESPACE, k)) for k in keys.to_list()], dtype=pl.String
    )
