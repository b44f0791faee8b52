"""A full disk, on a real 3 MB tmpfs: events are refused (503) while it is full, /healthz
says so, flush and shutdown say what they could not convert, and once space is freed
every acknowledged event reaches Parquet without a restart."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.storage import LogRawEventStore, StoreUnavailable
from collector.storage.log import SegmentsNotConverted
from convtrack.core.raw_log import log_dir
from convtrack.core.settings import Settings
from tests.collector.conftest import ADMIN
from tests.collector.test_log_store import conversion, parquet_rows, segments
from tests.conftest import start_collector, stop_collector

SIZE = "3m"


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs, mounted for the test and unmounted after it."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mount = tmp_path / "small-fs"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", mount], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", mount], check=True)


def fill(directory: Path) -> Path:
    """A file that takes every byte left on `directory`'s filesystem."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        for chunk in (b"\0" * 65536, b"\0" * 4096, b"\0"):
            while True:
                try:
                    os.write(fd, chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    break
    finally:
        os.close(fd)
    return filler


async def eventually(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def test_a_conversion_that_hit_a_full_disk_is_retried_by_itself(small_fs):
    raw = small_fs / "raw"
    acked: list[str] = []

    async def scenario() -> None:
        store = LogRawEventStore(raw, retry_first_s=0.05, retry_max_s=0.2)
        await store.start()
        for i in range(50):
            await store.append("conversions", [conversion(i)])
            acked.append(f"c{i}")
        filler = fill(small_fs)

        with pytest.raises(SegmentsNotConverted) as not_converted:
            await store.flush()
        assert "50 acknowledged events in 1 log segment not in Parquet" in str(not_converted.value)
        assert "No space left on device" in str(not_converted.value)
        [stuck] = store.status().unconverted
        assert stuck.events == 50 and stuck.attempts >= 1
        assert store.pending_events() == 50

        # Appends are refused once the log cannot grow (a page of it may still have room).
        for i in range(50, 1000):
            try:
                await store.append("conversions", [conversion(i)])
            except StoreUnavailable:
                break
            acked.append(f"c{i}")
        else:
            pytest.fail("no append was refused on a full disk")
        assert store.status().write_error is not None

        filler.unlink()
        # No flush, no restart: the writer task retries the conversion on its own.
        await eventually(lambda: store.status().unconverted == [])
        assert store.pending_events() == len(acked) - 50  # the ones in the open segment
        await store.append("conversions", [conversion(1000)])
        acked.append("c1000")
        assert not store.status().degraded
        await store.flush()
        assert store.pending_events() == 0
        await store.close()

    asyncio.run(scenario())
    stored = Counter(r["event_id"] for r in parquet_rows(raw, "conversions"))
    assert sorted(stored) == sorted(acked) and set(stored.values()) == {1}
    assert segments(raw) == []
    assert not (log_dir(raw) / "quarantine").exists()  # the failed writes left no damage


def test_close_on_a_full_disk_says_what_it_leaves_and_the_next_start_converts_it(small_fs, caplog):
    raw = small_fs / "raw"

    async def write_then_stop_on_a_full_disk() -> None:
        store = LogRawEventStore(raw, writer_id="wfull")
        await store.start()
        await asyncio.gather(*(store.append("conversions", [conversion(i)]) for i in range(20)))
        fill(small_fs)
        await store.close()

    asyncio.run(write_then_stop_on_a_full_disk())
    [left] = segments(raw)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(
        "20 acknowledged events in 1 log segment" in e
        and left.name in e
        and "the next start converts them" in e
        for e in errors
    ), errors

    (small_fs / "filler").unlink()

    async def start_again() -> int:
        store = LogRawEventStore(raw)
        await store.start()
        recovered = store.recovered_rows
        await store.close()
        return recovered

    assert asyncio.run(start_again()) == 20
    assert sorted(r["event_id"] for r in parquet_rows(raw, "conversions")) == sorted(
        f"c{i}" for i in range(20)
    )


def test_a_start_on_a_full_disk_keeps_the_orphans_it_cannot_convert_and_retries_them(small_fs):
    raw = small_fs / "raw"

    async def crash_with_rows_in_the_log() -> bytes:
        store = LogRawEventStore(raw, writer_id="wdead")
        await store.start()
        await store.append("conversions", [conversion(i) for i in range(10)])
        [segment] = segments(raw)
        on_disk = segment.read_bytes()
        await store.close()
        return on_disk

    on_disk = asyncio.run(crash_with_rows_in_the_log())
    for f in (raw / "conversions").rglob("*.parquet"):
        f.unlink()
    (log_dir(raw) / "wdead-00000001.log").write_bytes(on_disk)  # what a kill -9 leaves
    filler = fill(small_fs)

    async def start_full_then_free() -> None:
        store = LogRawEventStore(raw, retry_first_s=0.05, retry_max_s=0.2)
        await store.start()  # does not fail: the orphan waits for a retry
        [stuck] = store.status().unconverted
        assert (stuck.segment, stuck.events) == ("wdead-00000001.log", 10)
        filler.unlink()
        await eventually(lambda: store.status().unconverted == [])
        await store.close()

    asyncio.run(start_full_then_free())
    assert len(parquet_rows(raw, "conversions")) == 10


def test_healthz_is_degraded_while_a_segment_cannot_be_converted(tmp_path):
    # The log is writable, the Parquet side is not: events are safe, but stuck in the log.
    settings = Settings(data_dir=tmp_path / "data", admin_token=ADMIN)
    blocker = settings.raw_dir / "conversions"
    admin = {"Authorization": f"Bearer {ADMIN}"}
    with TestClient(create_app(settings)) as client:
        link = client.post(
            "/api/campaign-links",
            json={"short_code": "deg", "destination_url": "https://example.com/"},
            headers=admin,
        ).json()
        blocker.write_text("a file where the conversions directory should be")
        event = {
            "tracking_id": str(uuid.uuid4()),
            "campaign_link_id": link["campaign_link_id"],
            "event_type": "newsletter_signup",
        }
        assert client.post("/api/conversions", json=event).status_code == 202

        flushed = client.post("/api/admin/flush", headers=admin)
        assert flushed.status_code == 503
        assert "1 acknowledged event in 1 log segment" in flushed.json()["detail"]["message"]

        health = client.get("/healthz")
        assert health.status_code == 200  # events can still be written
        body = health.json()
        assert body["status"] == "degraded" and body["log_writable"] is True
        [stuck] = body["unconverted_segments"]
        assert stuck["events"] == 1 and stuck["segment"].endswith(".log")
        assert "Not a directory" in stuck["error"]
        assert (
            body["last_error"]
            == f"could not convert {stuck['segment']} to Parquet: {stuck['error']}"
        )

        blocker.unlink()
        assert client.post("/api/admin/flush", headers=admin).status_code == 200
        assert client.get("/healthz").json() | {"pending_events": 0} == {
            "status": "ok",
            "log_writable": True,
            "pending_events": 0,
            "unconverted_segments": [],
            "last_error": None,
        }


def parquet_event_ids(raw: Path, stream: str) -> Counter[str]:
    return Counter(
        e
        for f in sorted((raw / stream).glob("dt=*/*.parquet"))
        for e in pq.read_table(f, columns=["event_id"]).column("event_id").to_pylist()
    )


def test_a_collector_on_a_full_disk_refuses_then_recovers_every_acknowledged_event(
    small_fs, tmp_path
):
    """`convtrack serve` on a 3 MB tmpfs: fill, refuse, free; no flush and no restart."""
    data, raw = small_fs / "data", small_fs / "data" / "raw"
    # One worker: /healthz and the admin flush speak for the worker that answers.
    collector = start_collector(data, tmp_path / "collector.log", workers=1)
    try:
        with collector.admin() as admin, httpx.Client(base_url=collector.base_url) as http:
            link = admin.post(
                "/api/campaign-links",
                json={"short_code": "full", "destination_url": "https://example.com/"},
            ).json()

            def convert() -> httpx.Response:
                event_id = str(uuid.uuid4())
                resp = http.post(
                    "/api/conversions",
                    json={
                        "event_id": event_id,
                        "tracking_id": str(uuid.uuid4()),
                        "campaign_link_id": link["campaign_link_id"],
                        "event_type": "purchase",
                        "revenue_amount": "19.99",
                    },
                )
                if resp.status_code == 202:
                    acked.append(event_id)
                return resp

            acked: list[str] = []
            for _ in range(150):
                assert convert().status_code == 202
            filler = fill(small_fs)

            flushed = admin.post("/api/admin/flush")
            assert flushed.status_code == 503
            message = flushed.json()["detail"]["message"]
            assert "150 acknowledged events" in message and "No space left" in message

            health = http.get("/healthz")
            assert health.status_code == 503
            assert health.json()["status"] == "unavailable"
            assert health.json()["log_writable"] is False
            [stuck] = health.json()["unconverted_segments"]
            assert stuck["events"] == 150 and "No space left" in stuck["error"]

            for _ in range(500):  # refused once the open segment's last page is used
                if (resp := convert()).status_code != 202:
                    break
            assert resp.status_code == 503, resp.text
            assert resp.json()["detail"]["code"] == "storage_unavailable"

            filler.unlink()
            deadline = time.monotonic() + 90
            while http.get("/healthz").json()["unconverted_segments"]:
                assert time.monotonic() < deadline, "the stuck segment was never converted"
                time.sleep(0.05)
            stored = parquet_event_ids(raw, "conversions")
            # Converted by the collector's own retry: the 150 before the disk filled.
            assert all(stored[e] == 1 for e in acked[:150])
            # Degraded (a 200) until a write succeeds again: the last one failed.
            assert http.get("/healthz").json()["status"] == "degraded"
            assert convert().status_code == 202
            assert http.get("/healthz").json()["status"] == "ok"
            assert admin.post("/api/admin/flush").status_code == 200
    finally:
        stop_collector(collector)
    stored = parquet_event_ids(raw, "conversions")
    assert [e for e in acked if stored[e] != 1] == []
    assert set(stored) == set(acked)
    assert [p for p in log_dir(raw).glob("*.log")] == []
