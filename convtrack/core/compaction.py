"""Compaction of a closed day partition: many small files into one, atomically.

Readers glob `raw/<stream>/dt=<day>/*.parquet`; no sequence of renames in one directory
can swap a set of files for another in a single step, so the scheme chooses which of the
two in-between states a reader may meet, and makes the other impossible:

1. Inputs: the visible `*.parquet` of the partition, sorted. The output's name is
   `compact-<sha256 of the input names>.parquet`, and the input names are written into
   the output's Parquet metadata (`convtrack.compacted_from`).
2. The merged file is written under a temp name (`.…tmp`, invisible), fsync'ed, renamed
   to its final name, and the directory fsync'ed: from here on the output is durable and
   names what it replaces.
3. The inputs are deleted, then the directory is fsync'ed.

Rows are never missing for a reader: until step 2 the inputs are all there; after it the
output is. Between 2 and 3 (and after a crash there) a plain glob sees rows twice; that
state is repaired by the next `compact_partition` on that day, which first deletes every
input still named by a compacted file (roll forward), and it is invisible to readers that
use `live_files()`, which leaves those inputs out (the Spark engine, whose tables read
whole directories, deletes them first: `drop_merged_inputs`). The pipeline also drops duplicate
`event_id`s in staging, so a glob taken in that instant changes no mart. A crash before
step 2 leaves only a temp file, removed by the next run; the inputs are untouched.

Compaction is for closed days (`is_closed`): a day is left alone until it ended
`closed_after(segment_age_s)` ago, several times longer than a log segment lives
(`CONVTRACK_LOG_SEGMENT_MAX_AGE_S`), so no live segment still holds its rows and no
conversion of it is under way. Before merging, `recover_orphan_segments` converts what
dead collectors left in the log, so a later recovery cannot rewrite a file that was
already compacted.
Imports may add files to an old day at any time; a file that appears after the input
list was taken is simply not an input, and stays.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from convtrack.core.files import fsync_dir, write_parquet_atomically
from convtrack.core.raw_log import recover_orphan_segments
from convtrack.core.raw_schema import SCHEMAS, partition_dir

COMPACTED_PREFIX = "compact-"
SOURCES_KEY = b"convtrack.compacted_from"


def compacted_sources(path: Path) -> list[str]:
    """The input names a compacted file replaces ([] for any other file)."""
    if not path.name.startswith(COMPACTED_PREFIX):
        return []
    metadata = pq.read_schema(path).metadata or {}
    return metadata.get(SOURCES_KEY, b"").decode().split("\n") if SOURCES_KEY in metadata else []


def live_files(directory: Path) -> list[Path]:
    """The partition's Parquet files, less the inputs a compacted file already replaces."""
    files = sorted(directory.glob("*.parquet"))
    replaced = {name for f in files for name in compacted_sources(f)}
    return [f for f in files if f.name not in replaced]


def drop_merged_inputs(directory: Path) -> bool:
    """Delete the inputs a compacted file of the partition already holds (what step 3
    would have deleted); whether there were any. Safe beside a compaction under way: a
    file either of them deleted first is simply gone."""
    removed = False
    for f in sorted(directory.glob(f"{COMPACTED_PREFIX}*.parquet")):
        for name in compacted_sources(f):
            if name and name != f.name and (directory / name).exists():
                (directory / name).unlink(missing_ok=True)
                removed = True
    if removed:
        fsync_dir(directory)
    return removed


def _finish_interrupted(directory: Path) -> None:
    """Delete inputs that a compacted file replaces, and temp files of a dead run."""
    drop_merged_inputs(directory)
    temps = list(directory.glob(f".{COMPACTED_PREFIX}*.tmp"))
    for tmp in temps:
        tmp.unlink()
    if temps:
        fsync_dir(directory)


def closed_after(segment_age_s: float) -> dt.timedelta:
    """How long after its end a day is closed: every log segment that could hold its rows
    has been converted by then (a segment lives `segment_age_s`; the margin leaves room
    for a conversion that is slow or retried)."""
    return dt.timedelta(seconds=5 * segment_age_s)


def is_closed(day: dt.date, *, segment_age_s: float, now: dt.datetime | None = None) -> bool:
    """Whether `day` (UTC) ended long enough ago that no collector writes it any more."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
    return now >= end + closed_after(segment_age_s)


def compact_partition(
    raw_dir: Path, stream: str, day: dt.date, *, segment_age_s: float
) -> Path | None:
    """Merge the files of `stream`'s closed partition `day` into one; the file that holds
    the day afterwards (the merged one, or its only file), or None when the day is not
    closed yet or has no file. Merging happened when the answer is a compacted file."""
    raw_dir = Path(raw_dir)
    directory = partition_dir(raw_dir, stream, day)
    if not directory.is_dir() or not is_closed(day, segment_age_s=segment_age_s):
        return None
    recover_orphan_segments(raw_dir)
    _finish_interrupted(directory)
    inputs = sorted(directory.glob("*.parquet"))
    if len(inputs) <= 1:
        return inputs[0] if inputs else None
    names = [p.name for p in inputs]
    digest = hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]
    output = directory / f"{COMPACTED_PREFIX}{digest}.parquet"
    schema = SCHEMAS[stream]
    merged = pa.concat_tables(pq.read_table(p, schema=schema) for p in inputs)
    merged = merged.replace_schema_metadata({SOURCES_KEY: "\n".join(names).encode()})
    write_parquet_atomically(merged, output)
    _delete_inputs(inputs)
    fsync_dir(directory)
    return output


def _delete_inputs(inputs: list[Path]) -> None:
    for p in inputs:
        p.unlink(missing_ok=True)  # or already gone: drop_merged_inputs
