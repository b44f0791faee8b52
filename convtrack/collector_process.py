"""A real `convtrack serve` in its own process on 127.0.0.1 (the demo and the tests)."""

from __future__ import annotations

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


def spawn_collector(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen:
    """Start the collector; return once /healthz answers (the log says why if it doesn't)."""
    with open(log_path, "ab") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "convtrack.cli", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:  # readiness: poll until the server answers, bounded
        if proc.poll() is not None:
            raise RuntimeError(
                f"the collector exited with {proc.returncode}: {log_path.read_text()[-4000:]}"
            )
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(
                f"the collector was not ready in {READY_TIMEOUT_S:.0f} s; see {log_path}"
            )
        time.sleep(0.05)


def stop_collector_process(proc: subprocess.Popen) -> None:
    """SIGTERM (the collector flushes its log to Parquet), then SIGKILL after 30 s."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def running_collector(env: dict[str, str], port: int, log_path: Path) -> Iterator[str]:
    """The collector's base URL for the block; stopped gracefully when it ends."""
    proc = spawn_collector(env, port, log_path)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_collector_process(proc)
