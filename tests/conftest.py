"""Fixtures shared by the suites: a real collector process on 127.0.0.1."""

from __future__ import annotations

import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from convtrack.collector_process import (
    free_port,
    kill_collector_process,
    spawn_collector,
    stop_collector_process,
)


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


def start_collector(
    data_dir: Path, log_path: Path, *, workers: int | None = None, **extra_env: str
) -> Collector:
    """`convtrack serve` in its own process (`workers` of them; default one per core);
    returns once /healthz answers."""
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
    proc = spawn_collector(env, port, log_path, workers=workers)
    base = f"http://127.0.0.1:{port}"
    return Collector(base, data_dir, admin, reader, proc)


def stop_collector(collector: Collector) -> None:
    stop_collector_process(collector.process)


def kill_collector(collector: Collector) -> None:
    """SIGKILL the whole server (supervisor and workers); returns once all are gone."""
    kill_collector_process(collector.process)


@pytest.fixture
def collector(tmp_path: Path):
    c = start_collector(tmp_path / "data", tmp_path / "collector.log")
    yield c
    stop_collector(c)


# Published snapshots for the report's tests (tests/report, tests/browser), each built
# once per session by the real pipeline from the hand-labelled rows of
# tests/report_snapshot.py.
@pytest.fixture(scope="session")
def scenario():
    from tests.report_snapshot import story

    return story()


@pytest.fixture(scope="session")
def built(tmp_path_factory, scenario):
    from tests.report_snapshot import build

    with pytest.MonkeyPatch.context() as env:
        return build(tmp_path_factory.mktemp("report") / "data", scenario, env)


@pytest.fixture(scope="session")
def built_empty(tmp_path_factory):
    from tests.report_snapshot import build

    with pytest.MonkeyPatch.context() as env:
        return build(tmp_path_factory.mktemp("report-empty") / "data", None, env)
