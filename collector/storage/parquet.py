"""Raw events as micro-batched Parquet files (issue 2's store).

Appends wait for a short flush that writes everything pending in one file per
(stream, day); the caller is answered only after that file is durable.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import threading
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import uuid_utils

from collector.storage.base import StoreUnavailable
from convtrack.core.files import write_parquet_atomically
from convtrack.core.raw_schema import EVENT_TIME, SCHEMAS, partition_dir

# Long enough to gather the requests of a burst into one file, short against a request.
DEFAULT_FLUSH_DELAY_S = 0.002


def new_writer_id() -> str:
    """Unique per process start; time-ordered, so file names sort by writer age."""
    return f"w{uuid_utils.uuid7().hex}"


class ParquetRawEventStore:
    """`RawEventStore` writing `raw/<stream>/dt=<day>/<writer>-<seq>.parquet`."""

    def __init__(
        self,
        raw_dir: Path,
        *,
        writer_id: str | None = None,
        flush_delay_s: float = DEFAULT_FLUSH_DELAY_S,
        sequence: Iterator[int] | None = None,
    ) -> None:
        self.raw_dir = Path(raw_dir)
        self.writer_id = writer_id or new_writer_id()
        self._flush_delay_s = flush_delay_s
        # File numbers; a caller sharing our writer id shares the sequence too.
        self._seq = sequence if sequence is not None else itertools.count(1)
        self._seq_lock = threading.Lock()
        self._pending: list[tuple[str, list[dict], asyncio.Future[None]]] = []
        self._wake: asyncio.Event | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._stopping = False
        self._flusher = asyncio.create_task(self._flush_loop(), name="raw-store-flusher")

    async def append(self, stream: str, rows: list[dict]) -> None:
        if stream not in SCHEMAS:
            raise ValueError(f"unknown stream {stream!r}")
        if self._flusher is None or self._wake is None or self._stopping:
            raise StoreUnavailable("the raw event store is not running")
        if not rows:
            return
        done = asyncio.get_running_loop().create_future()
        self._pending.append((stream, rows, done))
        self._wake.set()
        await done

    async def flush(self) -> None:
        """Nothing to do: an append is answered only once its Parquet file is written."""

    async def close(self) -> None:
        if self._flusher is None or self._wake is None:
            return
        self._stopping = True
        self._wake.set()
        await self._flusher
        self._flusher = None

    def write_table(self, stream: str, table: pa.Table) -> None:
        schema = SCHEMAS[stream]
        table = table.select(schema.names).cast(schema)
        if table.num_rows == 0:
            return
        days = pc.cast(table[EVENT_TIME[stream]], pa.date32())
        if days.null_count:
            raise ValueError(f"{EVENT_TIME[stream]} is null in {days.null_count} {stream} rows")
        for day in pc.unique(days).to_pylist():
            self._write_file(stream, day, table.filter(pc.equal(days, day)))

    async def _flush_loop(self) -> None:
        assert self._wake is not None
        while True:
            if not self._pending:
                if self._stopping:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            # Let the other requests of this burst join the same file.
            await asyncio.sleep(self._flush_delay_s)
            batch, self._pending = self._pending, []
            try:
                await asyncio.to_thread(self._write_batch, [(s, r) for s, r, _ in batch])
            except Exception as exc:
                error = StoreUnavailable(f"could not write raw events: {exc}")
                for _, _, done in batch:
                    if not done.done():
                        done.set_exception(error)
            else:
                for _, _, done in batch:
                    if not done.done():
                        done.set_result(None)

    def _write_batch(self, batch: list[tuple[str, list[dict]]]) -> None:
        groups: dict[tuple[str, dt.date], list[dict]] = defaultdict(list)
        for stream, rows in batch:
            time_column = EVENT_TIME[stream]
            for row in rows:
                groups[stream, row[time_column].date()].append(row)
        for (stream, day), rows in groups.items():
            self._write_file(stream, day, pa.Table.from_pylist(rows, schema=SCHEMAS[stream]))

    def _write_file(self, stream: str, day: dt.date, table: pa.Table) -> None:
        with self._seq_lock:
            seq = next(self._seq)
        name = f"{self.writer_id}-{seq:08d}.parquet"
        write_parquet_atomically(table, partition_dir(self.raw_dir, stream, day) / name)
