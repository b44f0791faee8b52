"""Read-only access to the published DuckDB snapshot, reopened when it is replaced.

The publisher swaps the file atomically (rename), so a new inode means a new snapshot.
Each snapshot is ATTACHed READ_ONLY to a fresh in-memory DuckDB: ATTACH bypasses
DuckDB's per-path instance cache, which could otherwise hand back the old file.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb

ALIAS = "snap"


class SnapshotUnavailable(RuntimeError):
    """No published snapshot to answer from (yet)."""


@dataclass(frozen=True, slots=True)
class Reading:
    """A cursor on one snapshot, and the day that snapshot is as of (YYYY-MM-DD; None when
    it does not say), read once when the file was opened: it cannot change under it."""

    cursor: duckdb.DuckDBPyConnection
    as_of: str | None


@dataclass(frozen=True, slots=True)
class _Opened:
    key: tuple[int, int, int, int]
    con: duckdb.DuckDBPyConnection
    as_of: str | None


def _file_key(path: Path) -> tuple[int, int, int, int]:
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


class SnapshotReader:
    """Hands out cursors on the current snapshot; tables are `snap.main.<name>`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._opened: _Opened | None = None

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor of its own for one request (cursors are safe across threads)."""
        return self.read().cursor

    def read(self) -> Reading:
        """A cursor of its own for one request, with its snapshot's as-of day."""
        try:
            key = _file_key(self.path)
        except FileNotFoundError as exc:
            raise SnapshotUnavailable(
                "no published snapshot yet: run `convtrack pipeline run` to build one"
            ) from exc
        with self._lock:
            if self._opened is None or self._opened.key != key:
                self._opened = self._attach(key)
            return Reading(self._opened.con.cursor(), self._opened.as_of)

    def _attach(self, key: tuple[int, int, int, int]) -> _Opened:
        con = duckdb.connect(":memory:")
        try:
            con.execute(f"attach ? as {ALIAS} (read_only)", [str(self.path)])
            as_of = con.execute(f"select as_of from {ALIAS}.main._meta limit 1").fetchone()
        except duckdb.Error as exc:
            con.close()
            raise SnapshotUnavailable(f"the published snapshot cannot be opened: {exc}") from exc
        return _Opened(key, con, as_of[0].isoformat() if as_of and as_of[0] else None)

    def close(self) -> None:
        with self._lock:
            if self._opened is not None:
                self._opened.con.close()
                self._opened = None
