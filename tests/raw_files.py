"""Raw Parquet written as the collector lays it out, for tests that build on real files."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from convtrack.core import raw_schema


def write_streams(raw: Path, streams: dict[str, list[dict]]) -> None:
    """Each stream's rows into the day partition of their event time, as the collector does."""
    for stream, rows in streams.items():
        by_day = defaultdict(list)
        for row in rows:
            by_day[row[raw_schema.EVENT_TIME[stream]].date()].append(row)
        for d, day_rows in by_day.items():
            directory = raw_schema.partition_dir(raw, stream, d)
            directory.mkdir(parents=True, exist_ok=True)
            table = pa.Table.from_pylist(day_rows, schema=raw_schema.SCHEMAS[stream])
            pq.write_table(table, directory / "w-1.parquet")
