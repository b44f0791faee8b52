"""The Parquet store: layout, atomic files, one file per burst, failures never acknowledged."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from collector.storage import ParquetRawEventStore, StoreUnavailable


def click(i: int, when: dt.datetime) -> dict:
    return {
        "event_id": f"e{i}",
        "tracking_id": f"t{i}",
        "campaign_link_id": "l",
        "clicked_at": when,
        "received_at": when,
        "ip_address": None,
        "user_agent": None,
        "referrer": None,
        "source": "redirect",
    }


def files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_concurrent_appends_share_files_per_day_and_are_on_disk_when_answered(tmp_path):
    day1, day2 = dt.datetime(2026, 11, 24, 23, 59), dt.datetime(2026, 11, 25, 0, 1)

    async def scenario() -> None:
        store = ParquetRawEventStore(tmp_path, writer_id="wtest")
        await store.start()
        rows = [click(i, day1 if i % 2 else day2) for i in range(20)]
        await asyncio.gather(*(store.append("clicks", [r]) for r in rows))
        # Everything acknowledged is readable now, before close().
        found = pq.read_table(tmp_path / "clicks").column("event_id").to_pylist()
        assert sorted(found) == sorted(r["event_id"] for r in rows)
        await store.close()

    asyncio.run(scenario())
    written = files(tmp_path)
    assert [p.parent.name for p in written] == ["dt=2026-11-24", "dt=2026-11-25"]
    assert all(p.name.startswith("wtest-") and p.suffix == ".parquet" for p in written)


def test_each_store_has_its_own_writer_id(tmp_path):
    assert ParquetRawEventStore(tmp_path).writer_id != ParquetRawEventStore(tmp_path).writer_id


def test_write_table_splits_by_day_and_leaves_no_temp_files(tmp_path):
    store = ParquetRawEventStore(tmp_path)
    times = [dt.datetime(2026, 1, 1, 5), dt.datetime(2026, 1, 2, 5), dt.datetime(2026, 1, 2, 6)]
    store.write_table("clicks", pa.Table.from_pylist([click(i, t) for i, t in enumerate(times)]))
    written = files(tmp_path)
    assert [(p.parent.name, pq.read_metadata(p).num_rows) for p in written] == [
        ("dt=2026-01-01", 1),
        ("dt=2026-01-02", 2),
    ]


def test_a_failed_write_is_not_acknowledged(tmp_path):
    blocker = tmp_path / "raw"
    blocker.write_text("a file where the clicks directory should go")

    async def scenario() -> None:
        store = ParquetRawEventStore(blocker)
        await store.start()
        with pytest.raises(StoreUnavailable):
            await store.append("clicks", [click(1, dt.datetime(2026, 1, 1))])
        await store.close()

    asyncio.run(scenario())


def test_append_after_close_is_refused(tmp_path):
    async def scenario() -> None:
        store = ParquetRawEventStore(tmp_path)
        await store.start()
        await store.close()
        with pytest.raises(StoreUnavailable):
            await store.append("clicks", [click(1, dt.datetime(2026, 1, 1))])

    asyncio.run(scenario())
