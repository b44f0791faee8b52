"""What the collector needs from raw storage, whatever sits behind it.

Issue 2 writes micro-batched Parquet files; issue 3 puts an fsync'ed append log with
group commit in front. Routes and the importer only ever see this protocol.
"""

from __future__ import annotations

from typing import Protocol

import pyarrow as pa


class StoreUnavailable(RuntimeError):
    """Rows could not be made durable; nothing may be acknowledged."""


class RawEventStore(Protocol):
    """Append-only storage of the raw streams (`convtrack.core.raw_schema`)."""

    async def start(self) -> None:
        """Get ready to accept rows (recover, open files, start background work)."""

    async def append(self, stream: str, rows: list[dict]) -> None:
        """Store `rows` of `stream`; returns only once they are durable on disk.

        Raises StoreUnavailable when they could not be written, UnstorableRow (before
        anything is written) when one of them can never be.
        """

    def write_table(self, stream: str, table: pa.Table) -> None:
        """Bulk-write a table of `stream` (imports), durable when this returns."""

    async def flush(self) -> None:
        """Make every acknowledged row visible in the Parquet layout now.

        Raises StoreUnavailable, saying what is left, when some rows could not be.
        """

    async def close(self) -> None:
        """Write what is pending and stop."""
