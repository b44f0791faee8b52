"""Durable, atomic files: temp name, fsync, rename, fsync of the directory."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq


def fsync_dir(path: Path) -> None:
    """fsync a directory (its entries) or a file (its contents), by path."""
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


def _write_atomically(final: Path, write: Callable[[BinaryIO], None]) -> None:
    """Readers see the whole of `final` or nothing, even after a crash.

    The temp name starts with a dot and keeps no final suffix, so readers' globs
    (`*.parquet`) never pick up a half-written file. A failed write removes its temp
    file: on a full disk a half-written one would only hold on to the space.
    """
    ensure_dir(final.parent)
    tmp = final.with_name(f".{final.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(final.parent)


def write_parquet_atomically(table: pa.Table, final: Path) -> None:
    """Write `table` at `final` so that readers see the whole file or nothing."""
    _write_atomically(final, lambda f: pq.write_table(table, f))


def write_bytes_atomically(data: bytes, final: Path) -> None:
    """Write `data` at `final` so that readers see the whole file or nothing."""
    _write_atomically(final, lambda f: f.write(data))
