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

import decimal
import struct
import zlib
from dataclasses import dataclass, field
from typing import NamedTuple

import orjson

from collector.storage.base import UnstorableRow
from convtrack.raw_schema import EVENT_TIME, SCHEMAS

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
