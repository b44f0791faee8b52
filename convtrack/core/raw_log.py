"""The append log's records: how a row is framed on disk, and how a segment is read back.

A record is a 16-byte header, then its payload, the orjson text of `[stream, row]`:

    magic b"\\x00CTL" | u32 payload length | u32 crc32 of the payload | u32 crc32 of the
    12 header bytes before it (little-endian)

The writer never frames a record the reader would refuse: `encode_record` raises
UnstorableRow, before anything is written, for a row orjson cannot encode (a lone
surrogate, say) or whose payload exceeds MAX_RECORD_BYTES.

The reader (`read_segment`) tells three things apart:
- a record: a valid header (magic, header checksum, length within the limit) and a
  payload that checks and decodes to a row of a known stream;
- damage: a valid header whose payload fails its checksum or does not decode (skipped
  by its length, which the header checksum vouches for), or bytes where no valid header
  starts (skipped up to the next one). Damage never hides the records after it: the
  caller keeps its bytes and says so;
- the torn tail: the start of a record cut by the end of the segment (a header cut short,
  or a header whose payload runs past the end), with no record after it. It is the write
  a crash interrupted, never acknowledged, and is dropped.

No payload can pass for a header: orjson escapes every byte below 0x20, and the magic
starts with 0x00. So reading resynchronises on the next magic whose header checks, and a
valid header found inside the span of a damaged record means bytes went missing before
it: reading goes on there rather than trusting the damaged record's length.

Segments written before the magic existed (`<u32 length><u32 crc32><payload>`) are still
read. That format cannot resynchronise, so whatever follows its last record that
checks is kept as damage rather than guessed to be a torn tail.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import fcntl
import logging
import os
import struct
import zlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import orjson
import pyarrow as pa

from convtrack.core.files import fsync_dir, write_bytes_atomically, write_parquet_atomically
from convtrack.core.raw_schema import EVENT_TIME, SCHEMAS, partition_dir


class UnstorableRow(ValueError):
    """A row the store can never hold as it is (too large, or not encodable).

    Nothing of the append was written; unlike StoreUnavailable, retrying cannot help.
    """

    def __init__(self, stream: str, index: int, field: str | None, reason: str) -> None:
        where = f"{stream} row {index}" + (f", field {field!r}" if field else "")
        super().__init__(f"{where} cannot be stored: {reason}")
        self.stream = stream
        self.index = index
        self.field = field


MAGIC = b"\x00CTL"
HEADER = struct.Struct("<4sIII")  # magic, payload length, payload crc32, header crc32
_CHECKED = HEADER.size - 4  # the header bytes its own checksum covers
OLD_HEADER = struct.Struct("<II")  # payload length, payload crc32: no magic
# The most one record may hold. Every field of a raw row is bounded far below this
# (collector/validation/rules.py); a row near it is a bug or an attack, and is refused.
MAX_RECORD_BYTES = 16 * 1024 * 1024


class Record(NamedTuple):
    """A row read back from a segment, with where its bytes lie."""

    offset: int
    size: int
    stream: str
    row: dict


class Damage(NamedTuple):
    """Bytes of a segment that hold no readable record, and why."""

    offset: int
    size: int
    reason: str


@dataclass
class SegmentContents:
    records: list[Record] = field(default_factory=list)
    damaged: list[Damage] = field(default_factory=list)
    torn_tail_bytes: int = 0


def _json_default(value: object) -> str:
    if isinstance(value, decimal.Decimal):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in the raw log")


def _dumps(value: object) -> bytes:
    return orjson.dumps(value, default=_json_default)


def _unencodable_field(row: dict) -> str | None:
    for key, value in row.items():
        try:
            _dumps(value)
        except TypeError:
            return key if isinstance(key, str) else None
    return None


def _largest_field(row: dict) -> str | None:
    sizes = {k: len(_dumps(v)) for k, v in row.items() if isinstance(k, str)}
    return max(sizes, key=sizes.__getitem__) if sizes else None


def encode_record(stream: str, row: dict, index: int = 0) -> bytes:
    """`row` of `stream` framed as one record; UnstorableRow if it can never be read back.

    `index` is the row's place in its append, for the error message.
    """
    try:
        payload = _dumps([stream, row])
    except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
        raise UnstorableRow(stream, index, _unencodable_field(row), str(exc)) from None
    if len(payload) > MAX_RECORD_BYTES:
        raise UnstorableRow(
            stream,
            index,
            _largest_field(row),
            f"it encodes to {len(payload)} bytes, over the {MAX_RECORD_BYTES} bytes "
            "one log record holds",
        )
    head = MAGIC + struct.pack("<II", len(payload), zlib.crc32(payload))
    return head + struct.pack("<I", zlib.crc32(head)) + payload


def _decode(payload: bytes) -> tuple[str, dict]:
    """The (stream, row) of a payload; ValueError when it is not one we could place."""
    value = orjson.loads(payload)
    if not (isinstance(value, list) and len(value) == 2 and value[0] in SCHEMAS):
        raise ValueError("not a [stream, row] pair of a known stream")
    stream, row = value
    if not isinstance(row, dict):
        raise ValueError("the row is not an object")
    if not isinstance(row.get(EVENT_TIME[stream]), str):
        raise ValueError(f"{EVENT_TIME[stream]} is missing")
    return stream, row


def _header_at(data: bytes, pos: int) -> tuple[int, int] | None:
    """(payload length, payload crc32) of a valid header at `pos`, else None."""
    if len(data) - pos < HEADER.size:
        return None
    magic, length, crc, head_crc = HEADER.unpack_from(data, pos)
    if magic != MAGIC or length > MAX_RECORD_BYTES:
        return None
    if zlib.crc32(data[pos : pos + _CHECKED]) != head_crc:
        return None
    return length, crc


def _next_header(data: bytes, start: int, stop: int) -> int:
    """Where the first valid header in [start, stop) begins, or -1."""
    pos = data.find(MAGIC, start)
    while 0 <= pos < stop:
        if _header_at(data, pos) is not None:
            return pos
        pos = data.find(MAGIC, pos + 1)
    return -1


def _read(data: bytes) -> SegmentContents:
    out = SegmentContents()
    pos, end = 0, len(data)
    while pos < end:
        header = _header_at(data, pos)
        if header is None:
            if end - pos < HEADER.size and MAGIC.startswith(data[pos : pos + len(MAGIC)]):
                out.torn_tail_bytes = end - pos  # a header cut short
                break
            following = _next_header(data, pos + 1, end)
            stop = end if following < 0 else following
            out.damaged.append(Damage(pos, stop - pos, "no valid record header"))
            pos = stop
            continue
        length, crc = header
        stop = pos + HEADER.size + length
        if stop > end:
            problem = "cut short by the end of the segment"
        else:
            payload = data[pos + HEADER.size : stop]
            if zlib.crc32(payload) != crc:
                problem = "payload checksum mismatch"
            else:
                try:
                    stream, row = _decode(payload)
                except ValueError as exc:  # orjson.JSONDecodeError is a ValueError
                    problem = f"undecodable payload: {exc}"
                else:
                    out.records.append(Record(pos, stop - pos, stream, row))
                    pos = stop
                    continue
        # No payload holds a header: one inside this record means bytes went missing
        # before it (a splice), and reading goes on there.
        following = _next_header(data, pos + HEADER.size, min(stop, end))
        if following >= 0:
            out.damaged.append(Damage(pos, following - pos, problem))
            pos = following
        elif stop > end:
            out.torn_tail_bytes = end - pos  # a payload cut short
            break
        else:
            out.damaged.append(Damage(pos, stop - pos, problem))
            pos = stop
    return out


def _old_record_at(data: bytes, pos: int) -> bytes | None:
    """The payload of an old-format record at `pos` whose checksum holds, else None."""
    if len(data) - pos < OLD_HEADER.size:
        return None
    length, crc = OLD_HEADER.unpack_from(data, pos)
    start = pos + OLD_HEADER.size
    # No length limit: the old writer had none, and its records that check are real.
    if start + length > len(data):
        return None
    payload = data[start : start + length]
    return payload if zlib.crc32(payload) == crc else None


def _read_old(data: bytes) -> SegmentContents:
    out = SegmentContents()
    pos = 0
    while (payload := _old_record_at(data, pos)) is not None:
        size = OLD_HEADER.size + len(payload)
        try:
            stream, row = _decode(payload)
        except ValueError as exc:
            out.damaged.append(Damage(pos, size, f"undecodable payload: {exc}"))
        else:
            out.records.append(Record(pos, size, stream, row))
        pos += size
    if pos < len(data):
        reason = "after the last valid record of an old-format segment (torn or damaged)"
        out.damaged.append(Damage(pos, len(data) - pos, reason))
    return out


def read_segment(data: bytes) -> SegmentContents:
    """Every record of a segment, the damaged bytes between them, and the torn tail."""
    if not data.startswith(MAGIC) and _old_record_at(data, 0) is not None:
        return _read_old(data)
    return _read(data)


# Where segments live, and how a dead writer's segments become Parquet ----------------

LOG_DIRNAME = "_log"
QUARANTINE_DIRNAME = "quarantine"
SEGMENT_SUFFIX = ".log"
# Parquet files per segment stay few and large; a minute bounds how long events wait
# in the log before the pipeline can see them.
DEFAULT_MAX_SEGMENT_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_SEGMENT_AGE_S = 60.0
_ARROW_ERRORS = (pa.ArrowException, ValueError, TypeError)
log = logging.getLogger(__name__)


def count_of(n: int, noun: str) -> str:
    """`1 event`, `2 events`: counts in messages people read."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def log_dir(raw_dir: Path) -> Path:
    return Path(raw_dir) / LOG_DIRNAME


def quarantine_dir(raw_dir: Path) -> Path:
    """Where the damaged bytes of converted segments are kept, one folder per segment."""
    return log_dir(raw_dir) / QUARANTINE_DIRNAME


def _wire_schema(schema: pa.Schema) -> pa.Schema:
    """`schema` with timestamps and decimals as the text the log holds them in."""
    fields = []
    for f in schema:
        text = pa.types.is_timestamp(f.type) or pa.types.is_decimal(f.type)
        fields.append(pa.field(f.name, pa.string()) if text else f)
    return pa.schema(fields)


def _table(stream: str, rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=_wire_schema(SCHEMAS[stream])).cast(SCHEMAS[stream])


def _tables(records: list[Record]) -> tuple[dict[tuple[str, dt.date], pa.Table], list[Damage]]:
    """Records as one table per (stream, day of the event time), and those that fit none."""
    groups: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for r in records:
        # ISO text: its first ten characters are the UTC day.
        groups[r.stream, r.row[EVENT_TIME[r.stream]][:10]].append(r)
    tables, misfits = {}, []
    for (stream, day), group in groups.items():
        try:
            date = dt.date.fromisoformat(day)
        except ValueError:
            reason = f"{EVENT_TIME[stream]} does not start with a date: {day!r}"
            misfits += [Damage(r.offset, r.size, reason) for r in group]
            continue
        try:
            table = _table(stream, [r.row for r in group])
        except _ARROW_ERRORS:
            # One row that does not fit the schema must not keep the others out.
            fitting = []
            for r in group:
                try:
                    _table(stream, [r.row])
                except _ARROW_ERRORS as exc:
                    reason = f"does not fit the {stream} schema: {exc}"
                    misfits.append(Damage(r.offset, r.size, reason))
                else:
                    fitting.append(r.row)
            if not fitting:
                continue
            table = _table(stream, fitting)
        tables[stream, date] = table
    return tables, misfits


def segment_tables(data: bytes) -> dict[tuple[str, dt.date], pa.Table]:
    """A segment's readable rows as one table per (stream, day of the event time)."""
    return _tables(read_segment(data).records)[0]


def _quarantine(raw_dir: Path, segment: Path, data: bytes, damaged: list[Damage]) -> None:
    """Keep the damaged bytes of `segment` before it goes, and say so loudly."""
    folder = quarantine_dir(raw_dir) / segment.stem
    for d in damaged:
        write_bytes_atomically(data[d.offset : d.offset + d.size], folder / f"{d.offset:012d}.bad")
    shown = "; ".join(f"{d.size} bytes at {d.offset}: {d.reason}" for d in damaged[:5])
    more = f"; and {len(damaged) - 5} more" if len(damaged) > 5 else ""
    log.error(
        "%s: %d damaged ranges (%d bytes) could not be read and are kept in %s: %s%s",
        segment.name,
        len(damaged),
        sum(d.size for d in damaged),
        folder,
        shown,
        more,
    )


def convert_segment(raw_dir: Path, path: Path, fd: int) -> int:
    """Turn the locked segment `path` into Parquet files, then delete it; rows written.

    File names come from the segment's name, so a redo after a crash overwrites.
    """
    size = os.fstat(fd).st_size
    data = os.pread(fd, size, 0) if size else b""
    contents = read_segment(data)
    tables, misfits = _tables(contents.records)
    if damaged := sorted(contents.damaged + misfits, key=lambda d: d.offset):
        _quarantine(raw_dir, path, data, damaged)
    for (stream, day), table in sorted(tables.items()):
        write_parquet_atomically(
            table, partition_dir(raw_dir, stream, day) / f"{path.stem}.parquet"
        )
    if contents.torn_tail_bytes:
        log.info(
            "%s: dropped a torn tail of %d bytes (a write cut by a crash, never acknowledged)",
            path.name,
            contents.torn_tail_bytes,
        )
    with contextlib.suppress(FileNotFoundError):  # a retry after the unlink, not its fsync
        os.unlink(path)
    fsync_dir(path.parent)
    return sum(t.num_rows for t in tables.values())


def try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def locked_orphan_segments(raw_dir: Path) -> Iterator[tuple[Path, int]]:
    """(path, locked fd) of each segment whose writer is gone; the caller closes the fd."""
    directory = log_dir(raw_dir)
    if not directory.is_dir():
        return
    for path in sorted(directory.glob(f"*{SEGMENT_SUFFIX}")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:  # converted meanwhile by another recoverer
            continue
        # Neither a live writer's segment nor one converted and deleted between our
        # open and our lock.
        if try_lock(fd) and path.exists():
            yield path, fd
        else:
            os.close(fd)


def recover_orphan_segments(raw_dir: Path) -> int:
    """Convert every segment whose writer is gone (its lock is free); rows recovered."""
    recovered = 0
    for path, fd in locked_orphan_segments(raw_dir):
        try:
            rows = convert_segment(raw_dir, path, fd)
            recovered += rows
            log.info("recovered %d rows from %s", rows, path.name)
        finally:
            os.close(fd)
    return recovered
