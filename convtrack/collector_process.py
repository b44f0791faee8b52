"""A real `convtrack serve` in its own process on 127.0.0.1 (the demo and the tests).

The server runs in a process group of its own: with several workers, uvicorn's
supervisor and its workers are one group, so a crash test can SIGKILL all of them at
once and wait until none is left (docs/operations.md#workers).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

READY_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn_collector(
    env: dict[str, str], port: int, log_path: Path, *, workers: int | None = None
) -> subprocess.Popen:
    """Start the collector (`workers` processes, default one per core); return once
    /healthz answers (the log says why if it doesn't)."""
    command = [sys.executable, "-m", "convtrack.cli", "serve", "--port", str(port)]
    if workers is not None:
        command += ["--workers", str(workers)]
    with open(log_path, "ab") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: see kill_collector_process
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:  # readiness: poll until the server answers, bounded
        if proc.poll() is not None:
            kill_collector_process(proc)  # workers it may have left behind
            raise RuntimeError(
                f"the collector exited with {proc.returncode}: {log_path.read_text()[-4000:]}"
            )
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            kill_collector_process(proc)
            raise RuntimeError(
                f"the collector was not ready in {READY_TIMEOUT_S:.0f} s; see {log_path}"
            )
        time.sleep(0.05)


def _state_and_group(stat: Path) -> tuple[str, int] | None:
    """(state, process group) from a /proc/<pid>/stat; None once the process is gone."""
    try:
        text = stat.read_text()
    except OSError:
        return None
    # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
    state, _ppid, pgrp = text[text.rindex(")") + 2 :].split()[:3]
    return state, int(pgrp)


def _exited(state: str) -> bool:
    return state in ("Z", "X")  # a zombie has exited: its files and locks are released


def has_exited(pid: int) -> bool:
    """Whether process `pid` has exited (or was never there)."""
    found = _state_and_group(Path(f"/proc/{pid}/stat"))
    return found is None or _exited(found[0])


def _group_members(pgid: int) -> list[int]:
    """The processes of group `pgid` that have not exited."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        found = _state_and_group(stat)
        if found is not None and found[1] == pgid and not _exited(found[0]):
            members.append(int(stat.parent.name))
    return members


def kill_collector_process(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGKILL the whole server, supervisor and workers; return once none of them runs."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=timeout)
    deadline = time.monotonic() + timeout
    while members := _group_members(proc.pid):  # workers outlive the supervisor briefly
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes {members} of the collector survived SIGKILL")
        time.sleep(0.01)


def stop_collector_process(proc: subprocess.Popen) -> None:
    """SIGTERM to the server (uvicorn's supervisor stops its workers, each flushing its
    log to Parquet), then SIGKILL to the whole group after 30 s or if a worker stays."""
    proc.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)
    if proc.returncode is None or _group_members(proc.pid):
        kill_collector_process(proc)


@contextmanager
def running_collector(
    env: dict[str, str], port: int, log_path: Path, *, workers: int | None = None
) -> Iterator[str]:
    """The collector's base URL for the block; stopped gracefully when it ends."""
    proc = spawn_collector(env, port, log_path, workers=workers)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_collector_process(proc)
