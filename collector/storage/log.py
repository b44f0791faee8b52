"""Raw events behind an fsync'ed append log with group commit.

`append()` returns once its rows are in a log segment that has been fsync'ed:
`raw/_log/<writer>-<seq>.log`. One writer task takes every append that arrived while
the previous write+fsync ran and makes them durable with a single `os.fsync` (group
commit); the write and the fsync run in a thread, so the event loop keeps accepting.

A segment is a run of records (`convtrack.core.raw_log`): a row that could not
be read back is refused before anything is written, and when a segment is read, damaged
bytes never hide the records after them. A write that fails is cut off the segment
again, so the next records follow the last acknowledged one.

Segments are closed by size and by age and turned into one Parquet file per
(stream, day) by a child process (`collector.storage.converter`: converting holds the
GIL too long to share a process with the event loop), named after the segment
(`<stream>/dt=<day>/<writer>-<seq>.parquet`), each written atomically (temp, fsync, rename, fsync of the directory); then the
segment is deleted. Redoing a conversion after a crash overwrites the same names with
the same rows, so it never doubles them. Damaged bytes of a segment are first copied to
`raw/_log/quarantine/<segment>/<offset>.bad` and logged as an error: an operator can
look at them, nothing acknowledged disappears without a word.

A conversion that fails (a full disk, say) leaves its segment where it is, still
locked, and the writer task tries again on a backoff until it succeeds; `flush()`
raises and `status()` reports while any segment waits. `close()` tries once more and
logs what it leaves for the next start.

Every segment is held with an exclusive `flock` by the process writing it. At start,
and in `recover_orphan_segments`, a segment is recovered only if its lock can be
taken, i.e. its writer is dead: a live collector sharing the directory keeps its own.
Workers of one `convtrack serve --workers N` start together and recover side by side:
each segment is converted by the one that locks it first, and a writer never writes to
a segment it could not lock or that a recoverer deleted before its lock.

`campaign_links` rows skip the log: link versions are rare and the registry of every
process reads them back from Parquet at once (see `collector.links`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pyarrow as pa

from collector.storage.base import StoreUnavailable
from collector.storage.converter import convert_in_child
from collector.storage.parquet import ParquetRawEventStore, new_writer_id
from convtrack.core.files import (
    ensure_dir,
    fsync_dir,
)
from convtrack.core.raw_log import (
    DEFAULT_MAX_SEGMENT_AGE_S,
    DEFAULT_MAX_SEGMENT_BYTES,
    SEGMENT_SUFFIX,
    count_of,
    encode_record,
    locked_orphan_segments,
    log_dir,
    read_segment,
    try_lock,
)
from convtrack.core.raw_schema import SCHEMAS

__all__ = ["LogRawEventStore", "LogStatus", "SegmentsNotConverted", "UnconvertedSegment"]

log = logging.getLogger(__name__)

# A failed conversion is tried again after 1 s, then twice as long each time, up to
# 30 s: a freed disk is noticed within half a minute, a full one costs little.
DEFAULT_RETRY_FIRST_S = 1.0
DEFAULT_RETRY_MAX_S = 30.0
# Streams written straight to Parquet (see the module docstring).
DIRECT_STREAMS = frozenset({"campaign_links"})
# New segment names tried before a commit fails (see `_open_segment`).
OPEN_SEGMENT_ATTEMPTS = 5


@dataclass
class _Segment:
    path: Path
    fd: int
    opened_at: float
    size: int = 0  # bytes fsync'ed: the last acknowledged record ends here
    rows: int = 0
    torn: bool = False  # a failed write could not be cut off: write no more here
    # Once closed: its conversion to Parquet.
    converting: bool = False
    attempts: int = 0
    error: str | None = None
    retry_at: float = 0.0


@dataclass
class _Append:
    data: bytes
    rows: int
    done: asyncio.Future[None]


@dataclass(frozen=True)
class UnconvertedSegment:
    """A closed segment whose rows are not in Parquet yet because converting it failed."""

    segment: str
    events: int
    attempts: int
    error: str
    retry_in_s: float | None  # None while an attempt is under way


@dataclass(frozen=True)
class LogStatus:
    """What the log says about itself (the health route reports it)."""

    write_error: str | None  # why the last commit failed, until one succeeds again
    unconverted: list[UnconvertedSegment]
    last_error: str | None  # the latest of those, while any remains

    @property
    def degraded(self) -> bool:
        return self.write_error is not None or bool(self.unconverted)


class SegmentsNotConverted(StoreUnavailable):
    """Acknowledged rows are safe in log segments that could not be turned into Parquet."""

    def __init__(self, segments: list[UnconvertedSegment], *, retried: bool) -> None:
        events = sum(s.events for s in segments)
        listed = "; ".join(
            f"{s.segment}, {count_of(s.events, 'event')}: {s.error}" for s in segments[:3]
        )
        more = f"; and {len(segments) - 3} more" if len(segments) > 3 else ""
        then = "they are retried automatically" if retried else "the next start converts them"
        super().__init__(
            f"{count_of(events, 'acknowledged event')} in "
            f"{count_of(len(segments), 'log segment')} not in Parquet yet ({listed}{more}); "
            f"they are safe in the log and {then}"
        )
        self.segments = segments


class LogRawEventStore:
    """`RawEventStore`: group-committed append log in front of the Parquet layout."""

    def __init__(
        self,
        raw_dir: Path,
        *,
        writer_id: str | None = None,
        max_segment_bytes: int = DEFAULT_MAX_SEGMENT_BYTES,
        max_segment_age_s: float = DEFAULT_MAX_SEGMENT_AGE_S,
        retry_first_s: float = DEFAULT_RETRY_FIRST_S,
        retry_max_s: float = DEFAULT_RETRY_MAX_S,
    ) -> None:
        self.raw_dir = Path(raw_dir)
        self.writer_id = writer_id or new_writer_id()
        self.max_segment_bytes = max_segment_bytes
        self.max_segment_age_s = max_segment_age_s
        self.retry_first_s = retry_first_s
        self.retry_max_s = retry_max_s
        # Bulk imports and link versions: straight to Parquet, sharing our writer id.
        # One sequence for segments and direct files: every name of this writer is unique.
        self._seq = itertools.count(1)
        self._direct = ParquetRawEventStore(
            self.raw_dir, writer_id=self.writer_id, sequence=self._seq
        )
        self._segment: _Segment | None = None
        # Closed segments not yet in Parquet: converting, or waiting to be retried.
        self._closed: dict[Path, _Segment] = {}
        self._pending: list[_Append] = []
        self._wake: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None
        self._conversions: set[asyncio.Future[int]] = set()
        self._log_thread: ThreadPoolExecutor | None = None
        self._stopping = False
        self._rows_in_log = 0
        self._rotation_requests: list[asyncio.Future[None]] = []
        self._write_error: str | None = None
        self._last_error: str | None = None
        self.recovered_rows = 0

    @property
    def log_dir(self) -> Path:
        return log_dir(self.raw_dir)

    def pending_events(self) -> int:
        """Rows not in Parquet yet: waiting for their commit, or in a log segment."""
        return sum(a.rows for a in self._pending) + self._rows_in_log

    def status(self) -> LogStatus:
        """Whether commits fail, and which closed segments could not be converted."""
        now = time.monotonic()
        unconverted = [
            UnconvertedSegment(
                seg.path.name,
                seg.rows,
                seg.attempts,
                seg.error,
                None if seg.converting else round(max(0.0, seg.retry_at - now), 3),
            )
            # A copy taken in one step: the health route calls this from a thread.
            for seg in list(self._closed.values())
            if seg.error is not None
        ]
        degraded = self._write_error is not None or bool(unconverted)
        return LogStatus(self._write_error, unconverted, self._last_error if degraded else None)

    async def start(self) -> None:
        ensure_dir(log_dir(self.raw_dir))
        self._log_thread = ThreadPoolExecutor(1, thread_name_prefix="raw-log")
        await self._direct.start()
        self._wake = asyncio.Event()
        self._stopping = False
        self.recovered_rows = await self._recover_orphans()
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
        # Encoded before anything is queued: a row that could never be read back is
        # refused here, for this caller only.
        data = b"".join(encode_record(stream, r, i) for i, r in enumerate(rows))
        done = asyncio.get_running_loop().create_future()
        self._pending.append(_Append(data, len(rows), done))
        self._wake.set()
        await done

    def write_table(self, stream: str, table: pa.Table) -> None:
        self._direct.write_table(stream, table)

    async def flush(self) -> None:
        """Turn every acknowledged row into Parquet now, instead of at the next rotation.

        The writer task closes the segment between two commits (never during a write)
        and retries every segment whose conversion failed; this returns once those are
        Parquet files, and raises SegmentsNotConverted naming the ones that are not.
        """
        if self._writer is None or self._wake is None or self._stopping:
            raise StoreUnavailable("the raw event store is not running")
        rotated = asyncio.get_running_loop().create_future()
        self._rotation_requests.append(rotated)
        self._wake.set()
        await rotated
        await self._wait_for_conversions()
        if failed := self.status().unconverted:
            raise SegmentsNotConverted(failed, retried=not self._stopping)

    async def close(self) -> None:
        """Commit what is pending, turn every segment into Parquet, stop.

        A segment that still cannot be converted after one more try stays in the log,
        unlocked, for the next start; an error says which and how many events.
        """
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
        await self._wait_for_conversions()
        if self._closed:
            self._retry_conversions(now=True)
            await self._wait_for_conversions()
        if failed := self.status().unconverted:
            log.error("%s", SegmentsNotConverted(failed, retried=False))
        for seg in self._closed.values():
            with contextlib.suppress(OSError):
                os.close(seg.fd)  # unlocked: the next start (or another process) takes it
        self._closed = {}
        await self._direct.close()
        if self._log_thread is not None:
            self._log_thread.shutdown()

    async def _recover_orphans(self) -> int:
        """Convert what dead writers left; a segment that fails waits for a retry."""
        orphans = await asyncio.to_thread(self._lock_orphans)
        for seg in orphans:
            self._closed[seg.path] = seg
            self._rows_in_log += seg.rows
            self._convert(seg)
        results = await asyncio.gather(*list(self._conversions), return_exceptions=True)
        return sum(r for r in results if isinstance(r, int))

    def _lock_orphans(self) -> list[_Segment]:
        orphans = []
        for path, fd in locked_orphan_segments(self.raw_dir):
            # Counted now so that the events are reported as pending if converting fails.
            try:
                size = os.fstat(fd).st_size
                rows = len(read_segment(os.pread(fd, size, 0)).records)
            except OSError:
                size = rows = 0
            orphans.append(_Segment(path, fd, time.monotonic(), size, rows))
        return orphans

    # The writer task -------------------------------------------------------------

    async def _commit_loop(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            if self._rotation_requests:  # flush(): between two commits, never during one
                requests, self._rotation_requests = self._rotation_requests, []
                self._rotate()
                self._retry_conversions(now=True)
                for r in requests:
                    if not r.done():
                        r.set_result(None)
            self._retry_conversions()
            if not self._pending:
                if self._stopping:
                    return
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self._seconds_to_next_timer())
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
                self._write_failed(exc, len(batch))
                error = StoreUnavailable(f"could not write raw events: {exc}")
                for a in batch:
                    if not a.done.done():
                        a.done.set_exception(error)
                continue
            if self._write_error is not None:
                log.info("raw log writes succeed again")
                self._write_error = None
            rows = sum(a.rows for a in batch)
            self._rows_in_log += rows
            if self._segment is not None:
                self._segment.rows += rows
            for a in batch:
                if not a.done.done():
                    a.done.set_result(None)
            self._rotate_if_due()

    def _write_failed(self, exc: Exception, appends: int) -> None:
        message = f"could not write raw events: {exc}"
        if self._write_error is None:  # one traceback per outage, not one per request
            log.exception("raw log write failed; %d appends refused", appends)
        else:
            log.warning("raw log write failed again (%s); %d appends refused", exc, appends)
        self._write_error = self._last_error = message
        if self._segment is not None and self._segment.torn:
            self._rotate()  # its reader drops the torn tail; no record may follow it

    def _seconds_to_next_timer(self) -> float | None:
        """Until the open segment is due to rotate by age, or a conversion to be retried."""
        now = time.monotonic()
        due = [seg.retry_at for seg in self._closed.values() if not seg.converting]
        seg = self._segment
        if seg is not None and seg.size > 0:
            due.append(seg.opened_at + self.max_segment_age_s)
        return max(0.0, min(due) - now) if due else None

    def _write_and_sync(self, data: bytes) -> None:
        if self._segment is None:
            self._segment = self._open_segment()
        seg = self._segment
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(seg.fd, view) :]
            os.fsync(seg.fd)
        except OSError:
            # Cut what this write left at the tail: it is not acknowledged, and the next
            # records must follow the last one that is.
            try:
                os.ftruncate(seg.fd, seg.size)
            except OSError:
                log.exception("could not cut a failed write off %s", seg.path.name)
                seg.torn = True
            raise
        seg.size += len(data)

    def _open_segment(self) -> _Segment:
        # A new segment is visible, unlocked, between its creation and our lock: a
        # process starting beside us (another worker) may take it for a dead writer's
        # empty segment, lock it and delete it. Then it is not ours: take a new name.
        for _ in range(OPEN_SEGMENT_ATTEMPTS):
            path = (
                log_dir(self.raw_dir) / f"{self.writer_id}-{self._next_seq():08d}{SEGMENT_SUFFIX}"
            )
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
            if try_lock(fd) and os.fstat(fd).st_nlink > 0:
                break
            os.close(fd)  # never write unlocked, nor into a deleted file
        else:
            raise StoreUnavailable(f"could not lock a new log segment in {path.parent}")
        try:
            fsync_dir(path.parent)  # the segment itself must survive a power cut
        except OSError:
            os.close(fd)
            os.unlink(path)
            raise
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
        self._closed[seg.path] = seg
        self._convert(seg)

    def _retry_conversions(self, *, now: bool = False) -> None:
        """Convert again the closed segments whose retry is due (all of them if `now`)."""
        moment = time.monotonic()
        for seg in list(self._closed.values()):
            if not seg.converting and (now or seg.retry_at <= moment):
                self._convert(seg)

    def _convert(self, seg: _Segment) -> None:
        seg.converting = True
        future = asyncio.ensure_future(self._convert_and_release(seg))
        self._conversions.add(future)
        future.add_done_callback(self._conversions.discard)
        future.add_done_callback(partial(self._converted, seg))

    async def _wait_for_conversions(self) -> None:
        if self._conversions:
            await asyncio.gather(*list(self._conversions), return_exceptions=True)

    def _converted(self, seg: _Segment, future: asyncio.Future[int]) -> None:
        seg.converting = False
        exc = None if future.cancelled() else future.exception()
        if future.cancelled() or exc is not None:
            seg.attempts += 1
            seg.error = str(exc or "cancelled")
            self._last_error = f"could not convert {seg.path.name} to Parquet: {seg.error}"
            delay = min(self.retry_max_s, self.retry_first_s * 2 ** (seg.attempts - 1))
            seg.retry_at = time.monotonic() + delay
            if seg.attempts == 1:
                log.error(
                    "%s; its %s stay in the log, retried in %.1f s",
                    self._last_error,
                    count_of(seg.rows, "event"),
                    delay,
                    exc_info=exc,
                )
            else:
                log.warning(
                    "%s (attempt %d); next in %.1f s", self._last_error, seg.attempts, delay
                )
            if self._wake is not None:
                self._wake.set()  # the writer task sets its timer for the retry
            return
        self._closed.pop(seg.path, None)
        self._rows_in_log -= seg.rows
        if seg.attempts:
            log.info(
                "%s converted to Parquet after %d failed attempts", seg.path.name, seg.attempts
            )

    async def _convert_and_release(self, seg: _Segment) -> int:
        """Convert `seg`; its lock is released once it is gone, kept while it waits."""
        rows = await convert_in_child(self.raw_dir, seg.path)
        with contextlib.suppress(OSError):
            os.close(seg.fd)
        return rows
