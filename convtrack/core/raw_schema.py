"""The raw event streams on disk (docs/schemas.md#raw-events): their Arrow schemas and layout.

`data/raw/<stream>/dt=YYYY-MM-DD/<writer>-<seq>.parquet`. IDs are UUID text,
timestamps are UTC microseconds without zone, money is decimal(10,2), so DuckDB, Spark
and Polars read the same files. The collector writes them; the pipeline reads them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

# The first day a raw partition may have: the pipeline's daily partitions start here and
# no event before it is accepted. Imports bring history; this only has to predate it.
FIRST_DAY = dt.date(2020, 1, 1)

# A conversion's `event_type`, in the order of a visitor's commitment: the collector
# accepts these only (collector/validation/rules.py), the report lists them so.
EVENT_TYPES: tuple[str, ...] = ("newsletter_signup", "course_enrollment", "purchase")

TS = pa.timestamp("us")
MONEY = pa.decimal128(10, 2)

CLICKS = pa.schema(
    [
        ("event_id", pa.string()),
        ("tracking_id", pa.string()),
        ("campaign_link_id", pa.string()),
        ("clicked_at", TS),
        ("received_at", TS),
        ("ip_address", pa.string()),
        ("user_agent", pa.string()),
        ("referrer", pa.string()),
        ("source", pa.string()),
    ]
)

CONVERSIONS = pa.schema(
    [
        ("event_id", pa.string()),
        ("tracking_id", pa.string()),
        ("campaign_link_id", pa.string()),
        ("event_type", pa.string()),
        ("revenue_amount", MONEY),
        ("currency", pa.string()),
        ("order_id", pa.string()),
        ("event_data", pa.string()),
        ("converted_at", TS),
        ("received_at", TS),
        ("source", pa.string()),
        # Added later: files written before it have no such column, and read as null.
        # JSON text (`touches_json`), as event_data: one type for every engine to read.
        ("touches", pa.string()),
    ]
)

CAMPAIGN_LINKS = pa.schema(
    [
        ("campaign_link_id", pa.string()),
        ("short_code", pa.string()),
        ("destination_url", pa.string()),
        ("campaign_name", pa.string()),
        ("youtube_video_id", pa.string()),
        ("placement", pa.string()),
        ("created_at", TS),
        ("disabled_at", TS),
        ("recorded_at", TS),
        # Added later, nullable: the link's own attribution window in days (null: the
        # default one; docs/rules.md#windows-per-link). Older files read as null.
        ("attribution_window_days", pa.int32()),
    ]
)

# Refunds come from the merchant's back office, never from the tracker
# (docs/rules.md#refunds). They hold no personal data, and retention keeps them.
REFUNDS = pa.schema(
    [
        ("event_id", pa.string()),
        ("order_id", pa.string()),
        ("amount", MONEY),
        ("currency", pa.string()),
        ("reason", pa.string()),
        ("refunded_at", TS),
        ("received_at", TS),
        ("source", pa.string()),
    ]
)

SCHEMAS: dict[str, pa.Schema] = {
    "clicks": CLICKS,
    "conversions": CONVERSIONS,
    "campaign_links": CAMPAIGN_LINKS,
    "refunds": REFUNDS,
}

# The column whose UTC date names a row's `dt=` partition.
EVENT_TIME: dict[str, str] = {
    "clicks": "clicked_at",
    "conversions": "converted_at",
    "campaign_links": "recorded_at",
    "refunds": "refunded_at",
}

STREAMS = tuple(SCHEMAS)


def touches_json(touches: Sequence[dict[str, str]] | None) -> str | None:
    """A conversion's touches as the raw column `touches` holds them (docs/schemas.md#raw-events):
    a compact JSON array of `{"tracking_id": .., "campaign_link_id": ..}`, oldest first;
    None for no touches (absent or empty). The same touches always give the same text."""
    if not touches:
        return None
    return json.dumps(
        [
            {"tracking_id": t["tracking_id"], "campaign_link_id": t["campaign_link_id"]}
            for t in touches
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )


def partition_dir(raw_dir: Path, stream: str, day: dt.date) -> Path:
    return raw_dir / stream / f"dt={day.isoformat()}"


def partition_day(name: str) -> dt.date | None:
    """The day of a `dt=YYYY-MM-DD` directory name; None for any other name.

    Only the form `partition_dir` writes counts: `dt=20260301` would read as a date
    but name another directory than that day's.
    """
    text = name.removeprefix("dt=")
    if text == name or len(text) != 10:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return None
    return day if day.isoformat() == text else None


def partition_days(raw_dir: Path, stream: str) -> list[dt.date]:
    """Days that have at least one visible Parquet file in `stream`, oldest first.

    Directories whose name is not a day are left out (orchestration/raw_partitions.py
    reports them).
    """
    days = []
    root = raw_dir / stream
    if not root.is_dir():
        return days
    for d in root.iterdir():
        day = partition_day(d.name)
        if day is not None and d.is_dir() and any(d.glob("*.parquet")):
            days.append(day)
    return sorted(days)
