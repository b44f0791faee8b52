"""The converter child: log segments become Parquet outside the serving process, and a
converter that dies, or whose parent dies, loses nothing and lingers nowhere."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from collector.storage import LogRawEventStore
from collector.storage.converter import converter_pid
from collector.storage.log import SegmentsNotConverted
from tests.collector.test_disk_full import eventually
from tests.collector.test_log_store import conversion, parquet_rows, segments, wait_for

ROOT = Path(__file__).resolve().parents[2]


def gone(pid: int) -> bool:
    """The process has exited (a zombie waiting for its reaper counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def test_segments_are_converted_by_a_child_process(tmp_path):
    async def scenario() -> int:
        store = LogRawEventStore(tmp_path)
        await store.start()
        await store.append("conversions", [conversion(i) for i in range(20)])
        await store.flush()
        pid = converter_pid()
        await store.close()
        return pid

    pid = asyncio.run(scenario())
    assert pid != os.getpid() and not gone(pid)
    assert sorted(r["event_id"] for r in parquet_rows(tmp_path, "conversions")) == sorted(
        f"c{i}" for i in range(20)
    )
    assert segments(tmp_path) == []


def test_a_converter_killed_mid_way_is_replaced_and_nothing_is_lost(tmp_path):
    async def scenario() -> tuple[int, int]:
        store = LogRawEventStore(tmp_path, retry_first_s=0.05, retry_max_s=0.2)
        await store.start()
        await store.append("conversions", [conversion(i) for i in range(10)])
        await store.flush()  # the child is running now
        killed = converter_pid()
        os.kill(killed, signal.SIGKILL)
        await asyncio.to_thread(wait_for, lambda: gone(killed))
        await store.append("conversions", [conversion(i) for i in range(10, 30)])
        # The dead child takes this segment down with it; the store says so, keeps it
        # in the log, and converts it again with a new child on its own.
        with pytest.raises(SegmentsNotConverted, match="20 acknowledged events in 1 log segment"):
            await store.flush()
        assert store.pending_events() == 20
        await eventually(lambda: store.status().unconverted == [])
        replacement = converter_pid()
        await store.close()
        return killed, replacement

    killed, replacement = asyncio.run(scenario())
    assert replacement != killed
    stored = Counter(r["event_id"] for r in parquet_rows(tmp_path, "conversions"))
    assert stored == Counter(f"c{i}" for i in range(30))
    assert segments(tmp_path) == []


PARENT = """
import sys
from collector.storage.converter import converter_pid
print(converter_pid(), flush=True)
sys.stdin.read()  # until the test kills this process
"""


def test_the_converter_leaves_when_its_parent_is_sigkilled():
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        child = int(parent.stdout.readline())
        assert not gone(child)
        parent.kill()
        parent.wait()
        wait_for(lambda: gone(child), timeout=30)
    finally:
        parent.kill()
        parent.wait()
        if not gone(child):
            os.kill(child, signal.SIGKILL)
