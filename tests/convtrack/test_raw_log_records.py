"""Append-log records: every row is refused or read back whole, and no damage, wherever it
lies, hides an intact record after it; only a torn tail is dropped."""

from __future__ import annotations

import struct
import zlib

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convtrack.core.raw_log import (
    HEADER,
    MAGIC,
    MAX_RECORD_BYTES,
    UnstorableRow,
    encode_record,
    read_segment,
)

ISO = "2026-11-25T10:00:00.123456"
MiB = 1024 * 1024
# Any code point, lone surrogates included (what a JSON body's "\ud800" escape becomes),
# and text made of the hard ones, so that each is met often, not once in a hundred.
HARD_CHARACTERS = ["\ud800", "\udfff", "\x00", "\x1f", '"', "\\", "\u00e9", "\U0001f600", "a"]
ANY_TEXT = st.text(st.characters(codec=None, categories=None, exclude_categories=())) | st.text(
    st.sampled_from(HARD_CHARACTERS)
)


def click(i: int, **fields: object) -> dict:
    return {
        "event_id": f"e{i}",
        "tracking_id": f"t{i}",
        "campaign_link_id": "l",
        "clicked_at": ISO,
        "received_at": ISO,
        "ip_address": None,
        "user_agent": None,
        "referrer": None,
        "source": "redirect",
    } | fields


def ids(data: bytes) -> list[str]:
    return [r.row["event_id"] for r in read_segment(data).records]


def accounted(data: bytes) -> int:
    """Bytes the reader put somewhere: records, damage and the torn tail."""
    contents = read_segment(data)
    return (
        sum(r.size for r in contents.records)
        + sum(d.size for d in contents.damaged)
        + contents.torn_tail_bytes
    )


def has_surrogate(text: str | None) -> bool:
    return text is not None and any(0xD800 <= ord(c) <= 0xDFFF for c in text)


@settings(max_examples=300, deadline=None)
@given(user_agent=st.none() | ANY_TEXT, referrer=st.none() | ANY_TEXT, ip=st.none() | ANY_TEXT)
def test_any_row_is_refused_or_read_back_whole(user_agent, referrer, ip):
    row = click(1, user_agent=user_agent, referrer=referrer, ip_address=ip)
    try:
        record = encode_record("clicks", row)
    except UnstorableRow as refused:
        # Refused only when orjson cannot write it, and the message names the field.
        assert any(has_surrogate(v) for v in (user_agent, referrer, ip))
        assert refused.field in {"user_agent", "referrer", "ip_address"}
        return
    contents = read_segment(record)
    assert [(r.stream, r.row) for r in contents.records] == [("clicks", row)]
    assert contents.damaged == [] and contents.torn_tail_bytes == 0


def payload_overhead() -> int:
    """Bytes a click's payload holds besides its user agent's characters."""
    return len(orjson.dumps(["clicks", click(1, user_agent="")]))


@pytest.mark.parametrize(
    ("chars", "kept"),
    [
        (0, True),
        (1, True),
        (60 * 1024, True),
        (8 * MiB, True),
        (MAX_RECORD_BYTES - payload_overhead() - 1, True),
        (MAX_RECORD_BYTES - payload_overhead(), True),  # exactly the limit
        (MAX_RECORD_BYTES - payload_overhead() + 1, False),
        (17 * 1000 * 1000, False),  # the header that lost events in issue 8
    ],
    ids=["empty", "1B", "60KB", "8MiB", "limit-1", "limit", "limit+1", "17MB"],
)
def test_records_up_to_the_limit_are_read_back_and_larger_ones_refused(chars, kept):
    before, after = encode_record("clicks", click(0)), encode_record("clicks", click(2))
    big = click(1, user_agent="a" * chars)
    if not kept:
        with pytest.raises(UnstorableRow, match="user_agent") as refused:
            encode_record("clicks", big, 7)
        assert "clicks row 7" in str(refused.value)
        assert str(MAX_RECORD_BYTES) in str(refused.value)
        return
    data = before + encode_record("clicks", big) + after
    contents = read_segment(data)
    assert [r.row["event_id"] for r in contents.records] == ["e0", "e1", "e2"]
    assert len(contents.records[1].row["user_agent"]) == chars
    assert contents.damaged == []


def test_a_torn_tail_of_any_length_is_dropped_and_nothing_else():
    good = encode_record("clicks", click(0)) + encode_record("clicks", click(1))
    last = encode_record("clicks", click(2, referrer="https://example.com/" + "p" * 300))
    for cut in range(1, len(last)):
        contents = read_segment(good + last[:cut])
        assert [r.row["event_id"] for r in contents.records] == ["e0", "e1"], cut
        assert contents.damaged == [], cut
        assert contents.torn_tail_bytes == cut


def test_a_payload_that_checks_but_is_no_row_is_damage_and_reading_goes_on():
    def framed(payload: bytes) -> bytes:
        head = MAGIC + struct.pack("<II", len(payload), zlib.crc32(payload))
        return head + struct.pack("<I", zlib.crc32(head)) + payload

    bad = [framed(b"not json"), framed(b'["refunds?", {}]'), framed(b'["clicks", {"x": 1}]')]
    data = encode_record("clicks", click(0)) + b"".join(bad) + encode_record("clicks", click(1))
    contents = read_segment(data)
    assert [r.row["event_id"] for r in contents.records] == ["e0", "e1"]
    assert [d.size for d in contents.damaged] == [len(b) for b in bad]
    assert all("undecodable" in d.reason for d in contents.damaged)


# Damage, in the ways storage breaks: bytes overwritten, added, or gone missing.
FLIP, GARBAGE, CUT, HEADER_ONLY = "flip", "garbage", "cut", "header-only"
DAMAGE = st.sampled_from([None, None, FLIP, GARBAGE, CUT, HEADER_ONLY])


@st.composite
def segments(draw: st.DrawFn) -> tuple[bytes, list[str], int, bool]:
    """(segment, ids of its intact records in order, torn tail length, whether damaged)."""
    data, intact, damaged = b"", [], False
    for i in range(draw(st.integers(1, 8))):
        text = draw(st.text(max_size=50)) + "u" * draw(st.sampled_from([0, 1, 200, 5000]))
        record = encode_record("clicks", click(i, user_agent=text))
        damage = draw(DAMAGE)
        damaged = damaged or damage is not None
        if damage == FLIP:
            at = draw(st.integers(0, len(record) - 1))
            flipped = record[at] ^ draw(st.integers(1, 255))
            record = record[:at] + bytes([flipped]) + record[at + 1 :]
        elif damage == CUT:  # a splice: the rest of the record went missing
            record = record[: draw(st.integers(0, len(record) - 1))]
        elif damage == HEADER_ONLY:
            record = record[: HEADER.size]
        else:
            intact.append(f"e{i}")
            if damage == GARBAGE:
                data += draw(st.binary(min_size=1, max_size=64))
        data += record
    torn = 0
    if draw(st.booleans()):
        last = encode_record("clicks", click(99))
        torn = draw(st.integers(1, len(last) - 1))
        data += last[:torn]
    elif draw(st.booleans()):
        data += draw(st.binary(min_size=1, max_size=64))  # garbage appended
        damaged = True
    return data, intact, torn, damaged


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(segments())
def test_damage_never_hides_an_intact_record_and_only_a_torn_tail_is_dropped(segment):
    data, intact, torn, damaged = segment
    contents = read_segment(data)
    assert [r.row["event_id"] for r in contents.records] == intact
    # Every byte is a record, kept damage, or the torn tail: nothing vanishes unseen.
    assert accounted(data) == len(data)
    if not damaged:
        assert contents.damaged == []
        assert contents.torn_tail_bytes == torn


def old_record(row: dict) -> bytes:
    """A record as the append log wrote it before records had a magic."""
    payload = orjson.dumps(["clicks", row])
    return struct.pack("<II", len(payload), zlib.crc32(payload)) + payload


def test_old_format_segments_are_read_with_records_of_any_size():
    # The old writer had no limit: its 17 MB record checks, and so do the records after it.
    data = b"".join(
        old_record(click(i, user_agent="a" * n)) for i, n in enumerate([0, 17_000_000, 10])
    )
    assert ids(data) == ["e0", "e1", "e2"]
    assert read_segment(data).damaged == []


def test_what_follows_the_last_valid_old_record_is_kept_as_damage():
    good = old_record(click(0)) + old_record(click(1))
    flipped = bytearray(old_record(click(2)))
    flipped[-3] ^= 0xFF
    tail = bytes(flipped) + old_record(click(3))
    contents = read_segment(good + tail)
    assert [r.row["event_id"] for r in contents.records] == ["e0", "e1"]
    # The old format cannot resynchronise; the bytes are kept, never dropped unseen.
    assert [(d.offset, d.size) for d in contents.damaged] == [(len(good), len(tail))]
