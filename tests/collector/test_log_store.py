"""The append log: durable on answer, group commit, rotation, recovery without doubling."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import time
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from collector.storage import LogRawEventStore, StoreUnavailable
from collector.storage import log as log_module
from collector.storage.log import encode_record, log_dir, recover_orphan_segments
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


def test_a_corrupt_record_ends_the_segment(tmp_path):
    log_dir(tmp_path).mkdir(parents=True)
    record = encode_record(
        "clicks", click(1, DAY) | {"clicked_at": DAY.isoformat(), "received_at": DAY.isoformat()}
    )
    flipped = record[:-3] + bytes([record[-3] ^ 0xFF]) + record[-2:]
    (log_dir(tmp_path) / "wdead-00000001.log").write_bytes(record + flipped)
    assert recover_orphan_segments(tmp_path) == 1


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
