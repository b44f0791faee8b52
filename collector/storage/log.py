"""Raw events behind an fsync'ed append log with group commit (SPEC §5).

`append()` returns once its rows are in a log segment that has been fsync'ed:
`raw/_log/<writer>-<seq>.log`. One writer task takes every append that arrived while
the previous write+fsync ran and makes them durable with a single `os.fsync` (group
commit); the write and the fsync run in a thread, so the event loop keeps accepting.

A segment is a run of records `<u32 length><u32 crc32><orjson [stream, row]>`. A record
whose header or checksum does not match ends the segment: that is the torn tail of a
write that a crash interrupted, never acknowledged, and dropped.

Segments are closed by size and by age and turned into one Parquet file per
(stream, day), named after the segment (`<stream>/dt=<day>/<writer>-<seq>.parquet`),
each written atomically (temp, fsync, rename, fsync of the directory); then the
segment is deleted. Redoing a conversion after a crash overwrites the same names with
the same rows, so it never doubles them.

Every segment is held with an exclusive `flock` by the process writing it. At start,
and in `recover_orphan_segments`, a segment is recovered only if its lock can be
taken, i.e. its writer is dead: a live collector sharing the directory keeps its own.

`campaign_links` rows skip the log: link versions are rare and the registry of every
process reads them back from Parquet at once (see `collector.links`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import decimal
import fcntl
import itertools
import logging
import os
import struct
import time
import zlib
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import orjson
import pyarrow as pa

from collector.storage.base import StoreUnavailable
from collector.storage.files import ensure_dir, fsync_dir, write_parquet_atomically
from collector.storage.parquet import ParquetRawEventStore, new_writer_id
from convtrack.raw_schema import EVENT_TIME, SCHEMAS, partition_dir

log = logging.getLogger(__name__)

LOG_DIRNAME = "_log"
SEGMENT_SUFFIX = ".log"
HEADER = struct.Struct("<II")  # payload length, crc32 of the payload
# No single event comes near this; a larger "length" is a torn or foreign header.
MAX_RECORD_BYTES = 16 * 1024 * 1024
# Parquet files per segment stay few and large; a minute bounds how long events wait
# in the log before the pipeline can see them.
DEFAULT_MAX_SEGMENT_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_SEGMENT_AGE_S = 60.0
# Streams written straight to Parquet (see the module docstring).
DIRECT_STREAMS = frozenset({"campaign_links"})


def log_dir(raw_dir: Path) -> Path:
    return Path(raw_dir) / LOG_DIRNAME


def _json_default(value: object) -> str:
    if isinstance(value, decimal.Decimal):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in the raw log")


def encode_record(stream: str, row: dict) -> bytes:
    payload = orjson.dumps([stream, row], default=_json_default)
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def decode_records(data: bytes) -> Iterator[tuple[str, dict]]:
    """The (stream, row) records of a segment, up to the first torn or corrupt one."""
    pos, end = 0, len(data)
    while pos + HEADER.size <= end:
        length, crc = HEADER.unpack_from(data, pos)
        start = pos + HEADER.size
        if length > MAX_RECORD_BYTES or start + length > end:
            return
        payload = data[start : start + length]
        if zlib.crc32(payload) != crc:
            return
        stream, row = orjson.loads(payload)
        yield stream, row
        pos = start + length


def _wire_schema(schema: pa.Schema) -> pa.Schema:
    """`schema` with timestamps and decimals as the text the log holds them in."""
    fields = []
    for f in schema:
        text = pa.types.is_timestamp(f.type) or pa.types.is_decimal(f.type)
        fields.append(pa.field(f.name, pa.string()) if text else f)
    return pa.schema(fields)


def segment_tables(data: bytes) -> dict[tuple[str, dt.date], pa.Table]:
    """A segment's rows as one table per (stream, day of the event time)."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for stream, row in decode_records(data):
        # ISO text: its first ten characters are the UTC day.
        groups[stream, row[EVENT_TIME[stream]][:10]].append(row)
    return {
        (stream, dt.date.fromisoformat(day)): pa.Table.from_pylist(
            rows, schema=_wire_schema(SCHEMAS[stream])
        ).cast(SCHEMAS[stream])
        for (stream, day), rows in groups.items()
    }


def convert_segment(raw_dir: Path, path: Path, fd: int) -> int:
    """Turn the locked segment `path` into Parquet files, then delete it; rows written.

    File names come from the segment's name, so a redo after a crash overwrites.
    """
    size = os.fstat(fd).st_size
    data = os.pread(fd, size, 0) if size else b""
    tables = segment_tables(data)
    for (stream, day), table in sorted(tables.items()):
        write_parquet_atomically(
            table, partition_dir(raw_dir, stream, day) / f"{path.stem}.parquet"
        )
    os.unlink(path)
    fsync_dir(path.parent)
    return sum(t.num_rows for t in tables.values())


def try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def recover_orphan_segments(raw_dir: Path) -> int:
    """Convert every segment whose writer is gone (its lock is free); rows recovered."""
    directory = log_dir(raw_dir)
    if not directory.is_dir():
        return 0
    recovered = 0
    for path in sorted(directory.glob(f"*{SEGMENT_SUFFIX}")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:  # converted meanwhile by another recoverer
            continue
        try:
            if not try_lock(fd):
                continue  # a live writer's segment
            if not path.exists():  # converted and deleted between our open and our lock
                continue
            rows = convert_segment(raw_dir, path, fd)
            recovered += rows
            log.info("recovered %d rows from %s", rows, path.name)
        finally:
            os.close(fd)
    return recovered


@dataclass
class _Segment:
    path: Path
    fd: int
    opened_at: float
    size: int = 0
    rows: int = 0


@dataclass
class _Append:
    data: bytes
    rows: int
    done: asyncio.Future[None]


class LogRawEventStore:
    """`RawEventStore`: group-committed append log in front of the Parquet layout."""

    def __init__(
        self,
        raw_dir: Path,
        *,
        writer_id: str | None = None,
        max_segment_bytes: int = DEFAULT_MAX_SEGMENT_BYTES,
        max_segment_age_s: float = DEFAULT_MAX_SEGMENT_AGE_S,
    ) -> None:
        self.raw_dir = Path(raw_dir)
        self.writer_id = writer_id or new_writer_id()
        self.max_segment_bytes = max_segment_bytes
        self.max_segment_age_s = max_segment_age_s
        # Bulk imports and link versions: straight to Parquet, sharing our writer id.
        # One sequence for segments and direct files: every name of this writer is unique.
        self._seq = itertools.count(1)
        self._direct = ParquetRawEventStore(
            self.raw_dir, writer_id=self.writer_id, sequence=self._seq
        )
        self._segment: _Segment | None = None
        self._pending: list[_Append] = []
        self._wake: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None
        self._conversions: set[asyncio.Future[int]] = set()
        self._log_thread: ThreadPoolExecutor | None = None
        self._convert_thread: ThreadPoolExecutor | None = None
        self._stopping = False
        self._rows_in_log = 0
        self._rotation_requests: list[asyncio.Future[None]] = []
        self.recovered_rows = 0

    @property
    def log_dir(self) -> Path:
        return log_dir(self.raw_dir)

    def pending_events(self) -> int:
        """Rows not in Parquet yet: waiting for their commit, or in a log segment."""
        return sum(a.rows for a in self._pending) + self._rows_in_log

    async def start(self) -> None:
        ensure_dir(log_dir(self.raw_dir))
        self.recovered_rows = await asyncio.to_thread(recover_orphan_segments, self.raw_dir)
        self._log_thread = ThreadPoolExecutor(1, thread_name_prefix="raw-log")
        self._convert_thread = ThreadPoolExecutor(1, thread_name_prefix="raw-log-convert")
        await self._direct.start()
        self._wake = asyncio.Event()
        self._stopping = False
        self._writer = asyncio.create_task(self._commit_loop(), name="raw-log-writer")

    async def append(self, stream: str, rows: list[dict]) -> None:
        if stream not in SCHEMAS:
            raise ValueError(f"unknown stream {stream!r}")
        if self._writer is None or self._wake is None or self._stopping:
            raise StoreUnavailable("the raw event store is not running")
        if not rows:
            return
        if stream in DIRECT_STREAMS:
            await self._direct.append(stream, rows)
            return
        done = asyncio.get_running_loop().create_future()
        data = b"".join(encode_record(stream, r) for r in rows)
        self._pending.append(_Append(data, len(rows), done))
        self._wake.set()
        await done

    def write_table(self, stream: str, table: pa.Table) -> None:
        self._direct.write_table(stream, table)

    async def flush(self) -> None:
        """Turn every acknowledged row into Parquet now, instead of at the next rotation.

        The writer task closes the segment between two commits (never during a write);
        this returns once that segment, and any still converting, are Parquet files.
        """
        if self._writer is None or self._wake is None or self._stopping:
            raise StoreUnavailable("the raw event store is not running")
        rotated = asyncio.get_running_loop().create_future()
        self._rotation_requests.append(rotated)
        self._wake.set()
        await rotated
        if self._conversions:
            results = await asyncio.gather(*list(self._conversions), return_exceptions=True)
            if errors := [r for r in results if isinstance(r, BaseException)]:
                raise StoreUnavailable(f"could not convert the log to Parquet: {errors[0]}")

    async def close(self) -> None:
        """Commit what is pending, turn every segment into Parquet, stop."""
        if self._writer is None or self._wake is None:
            return
        self._stopping = True
        self._wake.set()
        await self._writer
        self._writer = None
        if self._segment is not None:
            self._rotate()
        for r in self._rotation_requests:  # flushes asked for while stopping: done below
            if not r.done():
                r.set_result(None)
        self._rotation_requests = []
        if self._conversions:
            await asyncio.gather(*self._conversions, return_exceptions=True)
        await self._direct.close()
        for pool in (self._log_thread, self._convert_thread):
            if pool is not None:
                pool.shutdown()

    # The writer task -------------------------------------------------------------

    async def _commit_loop(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            if self._rotation_requests:  # flush(): between two commits, never during one
                requests, self._rotation_requests = self._rotation_requests, []
                self._rotate()
                for r in requests:
                    if not r.done():
                        r.set_result(None)
            if not self._pending:
                if self._stopping:
                    return
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self._seconds_to_age_limit())
                except TimeoutError:
                    self._rotate_if_due()
                continue
            # Everything that arrived while the previous fsync ran: one write, one fsync.
            batch, self._pending = self._pending, []
            try:
                await loop.run_in_executor(
                    self._log_thread, self._write_and_sync, b"".join(a.data for a in batch)
                )
            except Exception as exc:
                log.exception("raw log write failed; %d appends refused", len(batch))
                # Whatever the failed write left at the tail must not hide later records.
                self._rotate()
                error = StoreUnavailable(f"could not write raw events: {exc}")
                for a in batch:
                    if not a.done.done():
                        a.done.set_exception(error)
                continue
            rows = sum(a.rows for a in batch)
            self._rows_in_log += rows
            if self._segment is not None:
                self._segment.rows += rows
            for a in batch:
                if not a.done.done():
                    a.done.set_result(None)
            self._rotate_if_due()

    def _seconds_to_age_limit(self) -> float | None:
        if self._segment is None or self._segment.size == 0:
            return None
        return max(0.0, self._segment.opened_at + self.max_segment_age_s - time.monotonic())

    def _write_and_sync(self, data: bytes) -> None:
        if self._segment is None:
            self._segment = self._open_segment()
        seg = self._segment
        view = memoryview(data)
        while view:
            written = os.write(seg.fd, view)
            seg.size += written
            view = view[written:]
        os.fsync(seg.fd)

    def _open_segment(self) -> _Segment:
        path = log_dir(self.raw_dir) / f"{self.writer_id}-{self._next_seq():08d}{SEGMENT_SUFFIX}"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        if not try_lock(fd):  # cannot happen for a fresh name; never write unlocked
            os.close(fd)
            raise StoreUnavailable(f"could not lock the new log segment {path}")
        fsync_dir(path.parent)  # the segment itself must survive a power cut
        return _Segment(path, fd, time.monotonic())

    def _next_seq(self) -> int:
        return next(self._seq)  # itertools.count: atomic under the GIL

    def _rotate_if_due(self) -> None:
        seg = self._segment
        if seg is None or seg.size == 0:
            return
        if (
            seg.size >= self.max_segment_bytes
            or time.monotonic() - seg.opened_at >= self.max_segment_age_s
        ):
            self._rotate()

    def _rotate(self) -> None:
        """Close the current segment and convert it in the background."""
        seg, self._segment = self._segment, None
        if seg is None:
            return
        future = asyncio.get_running_loop().run_in_executor(
            self._convert_thread, self._convert_and_release, seg
        )
        self._conversions.add(future)
        future.add_done_callback(self._conversions.discard)
        future.add_done_callback(lambda f: self._converted(seg, f))

    def _converted(self, seg: _Segment, future: asyncio.Future[int]) -> None:
        if not future.cancelled() and future.exception() is None:
            self._rows_in_log -= seg.rows

    def _convert_and_release(self, seg: _Segment) -> int:
        try:
            return convert_segment(self.raw_dir, seg.path, seg.fd)
        except Exception:
            # The segment stays on disk with its lock released: the next start (or
            # recover_orphan_segments) converts it.
            log.exception("could not convert %s; it is recovered at the next start", seg.path)
            raise
        finally:
            with contextlib.suppress(OSError):
                os.close(seg.fd)
