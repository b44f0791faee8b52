"""The converter child: log segments become Parquet outside the serving process, and a
converter that dies, or whose parent dies, loses nothing and lingers nowhere."""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import struct
import subprocess
import sys
import tempfile
import termios
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.storage import LogRawEventStore
from collector.storage.converter import converter_pid
from collector.storage.log import SegmentsNotConverted
from convtrack.collector_process import has_exited
from tests.collector.test_disk_full import eventually
from tests.collector.test_log_store import conversion, parquet_rows, segments, wait_for

ROOT = Path(__file__).resolve().parents[2]


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
    assert pid != os.getpid() and not has_exited(pid)
    assert sorted(r["event_id"] for r in parquet_rows(tmp_path, "conversions")) == sorted(
        f"c{i}" for i in range(20)
    )
    assert segments(tmp_path) == []


def waiting_requests(pid: int) -> int:
    """Bytes written to the converter's stdin that it has not read yet."""
    fd = os.open(f"/proc/{pid}/fd/0", os.O_RDONLY | os.O_NONBLOCK)  # the pipe itself
    try:
        return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]
    finally:
        os.close(fd)


def test_a_converter_killed_mid_way_is_replaced_and_nothing_is_lost(tmp_path):
    async def scenario() -> tuple[int, int]:
        store = LogRawEventStore(tmp_path, retry_first_s=0.05, retry_max_s=0.2)
        await store.start()
        await store.append("conversions", [conversion(i) for i in range(10)])
        await store.flush()  # the child is running now
        killed = converter_pid()
        await store.append("conversions", [conversion(i) for i in range(10, 30)])
        # Stopped, it takes the next segment's request and cannot answer; killed then,
        # it dies holding it.
        os.kill(killed, signal.SIGSTOP)
        flushing = asyncio.ensure_future(store.flush())
        await eventually(lambda: waiting_requests(killed) > 0)
        os.kill(killed, signal.SIGKILL)
        # The store says so, keeps the segment in the log, and converts it again with a
        # new child on its own.
        with pytest.raises(SegmentsNotConverted, match="20 acknowledged events in 1 log segment"):
            await flushing
        assert "the converter process ended (exit code -9)" in store.status().last_error
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


def test_ctrl_c_in_a_terminal_leaves_the_converter_to_finish_the_log(tmp_path):
    # SIGINT goes to the whole foreground process group; the server then converts its
    # log on the way out, through the same converter.
    async def scenario() -> tuple[int, int]:
        store = LogRawEventStore(tmp_path)
        await store.start()
        await store.append("conversions", [conversion(1)])
        await store.flush()
        before = converter_pid()
        os.kill(before, signal.SIGINT)
        await store.append("conversions", [conversion(2)])
        await store.close()
        return before, converter_pid()

    before, after = asyncio.run(scenario())
    assert after == before and not has_exited(before)
    assert sorted(r["event_id"] for r in parquet_rows(tmp_path, "conversions")) == ["c1", "c2"]


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
        assert not has_exited(child)
        parent.kill()
        parent.wait()
        wait_for(lambda: has_exited(child), timeout=30)
    finally:
        parent.kill()
        parent.wait()
        if not has_exited(child):
            os.kill(child, signal.SIGKILL)


HOST = """
import asyncio, sys
from pathlib import Path
from collector.storage import LogRawEventStore
from tests.collector.test_log_store import conversion

async def main() -> None:
    store = LogRawEventStore(Path(sys.argv[1]))
    await store.start()
    await store.append("conversions", [conversion(i) for i in range(5)])
    await store.flush()
    await store.close()

asyncio.run(main())
"""


def test_a_host_program_read_from_stdin_converts_too(tmp_path):
    # A converter started by multiprocessing's spawn imports the host's __main__ again,
    # which a program read from stdin (or a notebook, or a script with side effects at
    # import) cannot survive: every conversion failed. Ours runs a module of its own.
    subprocess.run(
        [sys.executable, "-", str(tmp_path)], input=HOST, text=True, cwd=ROOT, check=True
    )
    assert sorted(r["event_id"] for r in parquet_rows(tmp_path, "conversions")) == [
        f"c{i}" for i in range(5)
    ]


# A directory name is bytes: any but "/" and NUL, up to 255 of them, not valid UTF-8
# nor printable as likely as not (Python holds such bytes as lone surrogates).
directory_names = st.binary(min_size=1, max_size=255).filter(
    lambda b: b"/" not in b and b"\0" not in b and b not in (b".", b"..")
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=directory_names)
def test_a_data_directory_of_any_name_converts(tmp_path, name):
    raw = Path(tempfile.mkdtemp(dir=tmp_path)) / os.fsdecode(name) / "raw"

    async def scenario() -> None:
        store = LogRawEventStore(raw)
        await store.start()
        await store.append("conversions", [conversion(i) for i in range(3)])
        await store.flush()
        await store.close()

    asyncio.run(scenario())
    files = sorted((raw / "conversions").glob("dt=*/*.parquet"))
    with ExitStack() as stack:  # file objects: pyarrow takes a path as UTF-8 text
        ids = [
            r["event_id"]
            for f in files
            for r in pq.read_table(stack.enter_context(f.open("rb"))).to_pylist()
        ]
    assert sorted(ids) == ["c0", "c1", "c2"]
    assert segments(raw) == []
