"""Durable, atomic Parquet files: temp name, fsync, rename, fsync of the directory."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: Path) -> None:
    """Create `path` and make its new entries durable in their parents."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    path.mkdir(parents=True, exist_ok=True)
    for created in reversed(missing):
        fsync_dir(created.parent)


def write_parquet_atomically(table: pa.Table, final: Path) -> None:
    """Write `table` at `final` so that readers see the whole file or nothing.

    The temp name starts with a dot and does not end in `.parquet`, so globs of readers
    (`*.parquet`) never pick up a half-written file, even after a crash.
    """
    ensure_dir(final.parent)
    tmp = final.with_name(f".{final.name}.tmp")
    with open(tmp, "wb") as f:
        pq.write_table(table, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, final)
    fsync_dir(final.parent)
