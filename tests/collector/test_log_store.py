"""The append log: durable on answer, group commit, rotation, recovery without doubling."""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import os
import shutil
import struct
import time
import uuid
import zlib
from decimal import Decimal
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from collector.storage import LogRawEventStore, StoreUnavailable
from collector.storage import log as log_module
from convtrack.core.raw_log import encode_record, log_dir, recover_orphan_segments, segment_tables
from tests.collector.test_storage import click

DAY = dt.datetime(2026, 11, 25, 10, 0, 0, 123456)


def conversion(i: int, when: dt.datetime = DAY) -> dict:
    return {
        "event_id": f"c{i}",
        "tracking_id": f"t{i}",
        "campaign_link_id": "l",
        "event_type": "purchase",
        "revenue_amount": Decimal("12.50"),
        "currency": "USD",
        "order_id": None,
        "event_data": '{"plan": "pro"}',
        "converted_at": when,
        "received_at": when,
        "source": "api",
    }


def parquet_rows(raw: Path, stream: str) -> list[dict]:
    files = sorted((raw / stream).glob("dt=*/*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def segments(raw: Path) -> list[Path]:
    return sorted(log_dir(raw).glob("*.log"))


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_acknowledged_rows_are_in_the_fsynced_log_then_in_parquet_after_close(tmp_path):
    async def scenario() -> None:
        store = LogRawEventStore(tmp_path, writer_id="wlog")
        await store.start()
        await asyncio.gather(*(store.append("conversions", [conversion(i)]) for i in range(50)))
        # Acknowledged: in a segment on disk (a crash now loses nothing), not yet Parquet.
        assert len(segments(tmp_path)) == 1
        assert parquet_rows(tmp_path, "conversions") == []
        assert store.pending_events() == 50
        await store.close()

    asyncio.run(scenario())
    assert segments(tmp_path) == []
    rows = parquet_rows(tmp_path, "conversions")
    assert sorted(r["event_id"] for r in rows) == sorted(f"c{i}" for i in range(50))
    assert rows[0]["revenue_amount"] == Decimal("12.50")
    assert rows[0]["converted_at"] == DAY
    [written] = (tmp_path / "conversions").rglob("*.parquet")
    assert written.parent.name == "dt=2026-11-25" and written.name.startswith("wlog-")


def test_one_fsync_serves_a_burst_of_concurrent_appends(tmp_path, monkeypatch):
    fsyncs = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        fsyncs.append(fd)
        real_fsync(fd)

    async def scenario() -> None:
        store = LogRawEventStore(tmp_path)
        await store.start()
        monkeypatch.setattr(log_module.os, "fsync", counting_fsync)
        await asyncio.gather(*(store.append("clicks", [click(i, DAY)]) for i in range(200)))
        monkeypatch.setattr(log_module.os, "fsync", real_fsync)
        await store.close()

    asyncio.run(scenario())
    # Appends made in one loop turn all join the first commit: far fewer fsyncs than rows.
    assert 1 <= len(fsyncs) <= 3
    assert len(parquet_rows(tmp_path, "clicks")) == 200


def test_segments_rotate_by_size_while_running(tmp_path):
    async def scenario() -> None:
        store = LogRawEventStore(tmp_path, writer_id="wsize", max_segment_bytes=1)
        await store.start()
        for i in range(3):
            await store.append("clicks", [click(i, DAY)])
        await asyncio.to_thread(wait_for, lambda: len(parquet_rows(tmp_path, "clicks")) == 3)
        await store.close()

    asyncio.run(scenario())
    names = sorted(p.name for p in (tmp_path / "clicks").rglob("*.parquet"))
    assert len(names) == 3 and all(n.startswith("wsize-") for n in names)


def test_segments_rotate_by_age_when_idle(tmp_path):
    async def scenario() -> None:
        store = LogRawEventStore(tmp_path, max_segment_age_s=0.05)
        await store.start()
        await store.append("clicks", [click(1, DAY)])
        await asyncio.to_thread(wait_for, lambda: len(parquet_rows(tmp_path, "clicks")) == 1)
        assert segments(tmp_path) == []
        await store.close()

    asyncio.run(scenario())


def test_rows_of_several_streams_and_days_land_in_their_partitions(tmp_path):
    late = dt.datetime(2026, 11, 24, 23, 59, 59)

    async def scenario() -> None:
        store = LogRawEventStore(tmp_path)
        await store.start()
        await store.append("clicks", [click(1, late), click(2, DAY)])
        await store.append("conversions", [conversion(3, DAY)])
        await store.close()

    asyncio.run(scenario())
    dirs = sorted(str(p.parent.relative_to(tmp_path)) for p in tmp_path.rglob("*.parquet"))
    assert dirs == ["clicks/dt=2026-11-24", "clicks/dt=2026-11-25", "conversions/dt=2026-11-25"]


def test_a_torn_tail_is_dropped_and_the_records_before_it_recovered(tmp_path):
    log_dir(tmp_path).mkdir(parents=True)
    good = b"".join(
        encode_record(
            "clicks",
            click(i, DAY) | {"clicked_at": DAY.isoformat(), "received_at": DAY.isoformat()},
        )
        for i in range(3)
    )
    torn = encode_record(
        "clicks", click(9, DAY) | {"clicked_at": DAY.isoformat(), "received_at": DAY.isoformat()}
    )[:-5]
    (log_dir(tmp_path) / "wdead-00000001.log").write_bytes(good + torn)

    assert recover_orphan_segments(tmp_path) == 3
    assert sorted(r["event_id"] for r in parquet_rows(tmp_path, "clicks")) == ["e0", "e1", "e2"]
    assert segments(tmp_path) == []


def wire(row: dict) -> dict:
    """`row` with its times as the ISO text the log holds."""
    return row | {k: v.isoformat() for k, v in row.items() if isinstance(v, dt.datetime)}


def quarantined(raw: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(log_dir(raw))): p.read_bytes()
        for p in sorted((log_dir(raw) / "quarantine").rglob("*.bad"))
    }


def test_a_damaged_record_is_quarantined_and_the_records_after_it_recovered(tmp_path, caplog):
    log_dir(tmp_path).mkdir(parents=True)
    records = [encode_record("clicks", wire(click(i, DAY))) for i in range(4)]
    damaged = bytearray(records[1])
    damaged[-3] ^= 0xFF
    records[1] = bytes(damaged)
    (log_dir(tmp_path) / "wdead-00000001.log").write_bytes(b"".join(records))

    assert recover_orphan_segments(tmp_path) == 3
    assert sorted(r["event_id"] for r in parquet_rows(tmp_path, "clicks")) == ["e0", "e2", "e3"]
    assert segments(tmp_path) == []
    # Not lost without a word: its bytes are kept, and an error says where.
    offset = len(records[0])
    assert quarantined(tmp_path) == {f"quarantine/wdead-00000001/{offset:012d}.bad": records[1]}
    [error] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "wdead-00000001.log" in error.getMessage() and "1 damaged" in error.getMessage()


def old_format_record(stream: str, row: dict) -> bytes:
    """A record as the log wrote it before records had a magic: length, crc32, payload."""
    payload = orjson.dumps([stream, row], default=str)
    return struct.pack("<II", len(payload), zlib.crc32(payload)) + payload


def test_a_segment_the_old_writer_left_with_a_17_mb_record_is_recovered_whole(tmp_path):
    # What issue 8 found on disk: a huge header's record, then other visitors' events.
    log_dir(tmp_path).mkdir(parents=True)
    rows = [wire(click(i, DAY)) for i in range(3)]
    rows[1]["user_agent"] = "a" * 17_000_000
    records = [old_format_record("clicks", r) for r in rows]
    records.append(old_format_record("conversions", wire(conversion(9))))
    (log_dir(tmp_path) / "wold-00000001.log").write_bytes(b"".join(records))

    assert recover_orphan_segments(tmp_path) == 4
    assert sorted(r["event_id"] for r in parquet_rows(tmp_path, "clicks")) == ["e0", "e1", "e2"]
    assert [r["event_id"] for r in parquet_rows(tmp_path, "conversions")] == ["c9"]
    assert quarantined(tmp_path) == {}


@pytest.mark.parametrize(
    ("column", "value"), [("revenue_amount", "twelve fifty"), ("converted_at", "soon")]
)
def test_a_row_that_fits_no_schema_is_quarantined_alone(tmp_path, column, value):
    log_dir(tmp_path).mkdir(parents=True)
    rows = [wire(conversion(i)) for i in range(3)]
    rows[1][column] = value
    records = [encode_record("conversions", r) for r in rows]
    (log_dir(tmp_path) / "wdead-00000001.log").write_bytes(b"".join(records))

    assert recover_orphan_segments(tmp_path) == 2
    assert sorted(r["event_id"] for r in parquet_rows(tmp_path, "conversions")) == ["c0", "c2"]
    assert list(quarantined(tmp_path).values()) == [records[1]]


# Header sizes up to the one that lost events in issue 8, and text orjson cannot write.
HOSTILE_TEXT = {
    "empty": "",
    "1KB": "u" * 1024,
    "60KB": "u" * 60 * 1024,
    "8MiB": "u" * 8 * 1024 * 1024,
    "17MB": "u" * 17_000_000,
    "lone surrogate": "\ud800",
}


def test_rows_of_every_size_and_content_between_acknowledged_ones_survive_a_crash(tmp_path):
    """Each append either returns (then a crash loses nothing of it) or is refused
    before anything is written; no row puts the acknowledged rows after it at risk."""
    raw, after_crash = tmp_path / "raw", tmp_path / "after-crash"
    acked, refused = [], []

    async def scenario() -> bytes:
        store = LogRawEventStore(raw, writer_id="wsizes")
        await store.start()
        n = 0
        for name, text in HOSTILE_TEXT.items():
            for field in ("user_agent", "referrer"):
                for row in (click(n, DAY), click(n + 1, DAY) | {field: text}):
                    try:
                        await store.append("clicks", [row])
                    except ValueError:
                        refused.append((name, field))
                    else:
                        acked.append(row["event_id"])
                n += 2
        [segment] = segments(raw)
        on_disk = segment.read_bytes()  # what a kill -9 now would leave
        await store.close()
        return on_disk

    on_disk = asyncio.run(scenario())
    # Only rows that could never be read back were refused: over the limit, or unencodable.
    assert sorted(refused) == [
        ("17MB", "referrer"),
        ("17MB", "user_agent"),
        ("lone surrogate", "referrer"),
        ("lone surrogate", "user_agent"),
    ]
    log_dir(after_crash).mkdir(parents=True)
    (log_dir(after_crash) / "wsizes-00000001.log").write_bytes(on_disk)
    recover_orphan_segments(after_crash)
    stored = sorted(r["event_id"] for r in parquet_rows(after_crash, "clicks"))
    assert stored == sorted(acked)
    assert sorted(r["event_id"] for r in parquet_rows(raw, "clicks")) == sorted(acked)


def test_a_failed_write_is_cut_off_so_the_log_holds_only_acknowledged_rows(tmp_path, monkeypatch):
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "input/output error")

    async def scenario() -> bytes:
        store = LogRawEventStore(tmp_path)
        await store.start()
        await store.append("clicks", [click(1, DAY)])
        monkeypatch.setattr(log_module.os, "fsync", failing_fsync)
        with pytest.raises(StoreUnavailable):
            await store.append("clicks", [click(2, DAY)])
        monkeypatch.setattr(log_module.os, "fsync", real_fsync)
        await store.append("clicks", [click(3, DAY)])
        [segment] = segments(tmp_path)
        on_disk = segment.read_bytes()
        await store.close()
        return on_disk

    on_disk = asyncio.run(scenario())
    # The refused row was written but never made durable: it is gone, and nothing else.
    assert [r["event_id"] for r in segment_tables(on_disk)["clicks", DAY.date()].to_pylist()] == [
        "e1",
        "e3",
    ]
    assert sorted(r["event_id"] for r in parquet_rows(tmp_path, "clicks")) == ["e1", "e3"]


def test_redoing_a_conversion_after_a_crash_overwrites_instead_of_doubling(tmp_path):
    async def write_and_crash() -> None:
        store = LogRawEventStore(tmp_path, writer_id="wcrash")
        await store.start()
        await store.append("clicks", [click(i, DAY) for i in range(5)])
        # A crash: the process is gone, its segment (and its lock) left behind.
        shutil.copy(segments(tmp_path)[0], tmp_path / "segment.bak")
        await store.close()

    asyncio.run(write_and_crash())
    assert len(parquet_rows(tmp_path, "clicks")) == 5
    # The Parquet files were written but the segment was never deleted: redo.
    shutil.copy(tmp_path / "segment.bak", log_dir(tmp_path) / "wcrash-00000001.log")
    assert recover_orphan_segments(tmp_path) == 5
    assert len(parquet_rows(tmp_path, "clicks")) == 5


def test_recovery_at_start_leaves_a_live_writers_segment_alone(tmp_path):
    async def scenario() -> None:
        live = LogRawEventStore(tmp_path, writer_id="wlive")
        await live.start()
        await live.append("clicks", [click(1, DAY)])
        # A second collector starting on the same directory must not take it.
        other = LogRawEventStore(tmp_path, writer_id="wother")
        await other.start()
        assert other.recovered_rows == 0
        assert len(segments(tmp_path)) == 1
        assert parquet_rows(tmp_path, "clicks") == []
        await other.close()
        await live.close()

    asyncio.run(scenario())
    assert [r["event_id"] for r in parquet_rows(tmp_path, "clicks")] == ["e1"]


@pytest.mark.parametrize("recoverer_still_holds_it", [False, True])
def test_a_segment_taken_by_a_recoverer_before_its_writer_locked_it_is_not_written(
    tmp_path, monkeypatch, recoverer_still_holds_it
):
    """Two workers start together: one creates its first segment and, before it locks
    it, the other's recovery locks that empty file as a dead writer's and deletes it.
    The writer must not acknowledge rows written into a file nobody will ever read."""
    real_try_lock = log_module.try_lock
    raced: list[Path] = []

    def recoverer_first(fd: int) -> bool:
        path = Path(os.readlink(f"/proc/self/fd/{fd}"))
        if raced or not path.name.startswith("wlive-"):
            return real_try_lock(fd)
        raced.append(path)
        if recoverer_still_holds_it:  # the other process locked it and is converting
            other = os.open(path, os.O_RDONLY)
            assert real_try_lock(other)
            ok = real_try_lock(fd)
            os.unlink(path)
            os.close(other)
            return ok
        # The other process converted it (no rows) and deleted it: its lock is free.
        assert recover_orphan_segments(tmp_path) == 0
        return real_try_lock(fd)

    monkeypatch.setattr(log_module, "try_lock", recoverer_first)

    async def scenario() -> None:
        store = LogRawEventStore(tmp_path, writer_id="wlive")
        await store.start()
        await store.append("clicks", [click(1, DAY)])
        # The acknowledged row is in a segment on disk that a restart would recover.
        [segment] = segments(tmp_path)
        assert segment != raced[0]
        assert b"e1" in segment.read_bytes()
        await store.close()

    asyncio.run(scenario())
    assert raced, "the race was not staged"
    assert [r["event_id"] for r in parquet_rows(tmp_path, "clicks")] == ["e1"]


def test_a_new_store_recovers_a_dead_writers_segment_at_start(tmp_path):
    log_dir(tmp_path).mkdir(parents=True)
    record = encode_record(
        "conversions",
        conversion(7) | {"converted_at": DAY.isoformat(), "received_at": DAY.isoformat()},
    )
    (log_dir(tmp_path) / "wdead-00000004.log").write_bytes(record)

    async def scenario() -> None:
        store = LogRawEventStore(tmp_path)
        await store.start()
        assert store.recovered_rows == 1
        await store.close()

    asyncio.run(scenario())
    [path] = (tmp_path / "conversions").rglob("*.parquet")
    assert path.name == "wdead-00000004.parquet"
    assert pq.read_table(path).column("revenue_amount").to_pylist() == [Decimal("12.50")]


def test_a_failed_log_write_is_not_acknowledged(tmp_path):
    blocker = tmp_path / "raw"

    async def scenario() -> None:
        store = LogRawEventStore(blocker)
        await store.start()
        shutil.rmtree(log_dir(blocker))
        log_dir(blocker).write_text("a file where the log directory should be")
        with pytest.raises(StoreUnavailable):
            await store.append("clicks", [click(1, DAY)])
        await store.close()

    asyncio.run(scenario())


def test_append_after_close_is_refused(tmp_path):
    async def scenario() -> None:
        store = LogRawEventStore(tmp_path)
        await store.start()
        await store.close()
        with pytest.raises(StoreUnavailable):
            await store.append("clicks", [click(1, DAY)])

    asyncio.run(scenario())


def test_an_event_the_log_cannot_encode_is_refused_with_a_422_and_nothing_stored(
    client, settings, link
):
    # Validation may refuse it first; behind it, the store refuses it before any write.
    body = (
        f'{{"tracking_id": "{uuid.uuid4()}", '
        f'"campaign_link_id": "{link["campaign_link_id"]}", "event_type": "purchase", '
        '"revenue_amount": "5.00", "order_id": "\\ud800"}'
    )
    resp = client.post("/api/conversions", content=body.encode())
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"]["field"] == "order_id"
    assert client.app.state.store.pending_events() == 0
    assert segments(settings.raw_dir) == []
