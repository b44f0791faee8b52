"""Fixtures shared by the suites: a real collector process on 127.0.0.1."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest


@dataclass(frozen=True)
class Collector:
    base_url: str
    data_dir: Path
    admin_token: str
    read_token: str
    process: subprocess.Popen

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=30,
        )

    def reader(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.read_token}"},
            timeout=30,
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_collector(data_dir: Path, log_path: Path, **extra_env: str) -> Collector:
    """`convtrack serve` in its own process; returns once /healthz answers."""
    port = free_port()
    admin, reader = secrets.token_hex(8), secrets.token_hex(8)
    env = {
        **os.environ,
        "CONVTRACK_DATA_DIR": str(data_dir),
        "CONVTRACK_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "CONVTRACK_ADMIN_TOKEN": admin,
        "CONVTRACK_READ_TOKEN": reader,
        "CONVTRACK_RATE_LIMIT_PER_IP": "0",
        **extra_env,
    }
    log = open(log_path, "ab")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "convtrack.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:  # readiness: poll until the server answers, bounded
        if proc.poll() is not None:
            raise RuntimeError(f"collector exited with {proc.returncode}: {log_path.read_text()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"collector not ready in 60 s: {log_path.read_text()}")
        time.sleep(0.05)
    return Collector(base, data_dir, admin, reader, proc)


def stop_collector(collector: Collector) -> None:
    collector.process.terminate()
    try:
        collector.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        collector.process.kill()
        collector.process.wait()


@pytest.fixture
def collector(tmp_path: Path):
    c = start_collector(tmp_path / "data", tmp_path / "collector.log")
    yield c
    stop_collector(c)
