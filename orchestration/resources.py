"""Dagster resources: convtrack settings (read when a run starts, never at import) and
the warehouse's single-writer lock."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
from dagster import ConfigurableResource, InitResourceContext
from dagster_dbt import DbtCliResource

from convtrack.core.settings import Settings


class ConvtrackSettings(ConfigurableResource):
    """CONVTRACK_* settings for a run; `data_dir` overrides the environment (tests)."""

    data_dir: str | None = None

    def load(self) -> Settings:
        if self.data_dir is not None:
            return Settings(data_dir=self.data_dir)
        return Settings()


def connect_duckdb(settings: Settings, path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection of the pipeline (the warehouse file, or in memory), held to the
    settings' memory limit; it spills to the warehouse directory beyond it."""
    return duckdb.connect(
        str(path) if path else ":memory:",
        config={
            "memory_limit": settings.duckdb_memory_limit,
            "temp_directory": str(settings.warehouse_dir / ".tmp"),
        },
    )


def writer_lock_path(settings: Settings) -> Path:
    return settings.warehouse_dir / ".writer.lock"


class WarehouseWriterLock(ConfigurableResource):
    """Holds an exclusive lock on the warehouse for the whole run: one writer at a time.

    Whatever starts a run (the CLI, a schedule, a sensor, the UI), a second run that
    writes the warehouse waits here until the first one ends: DuckDB allows one
    read-write process per file, and two pipelines interleaving their steps would mix
    their days. Runs use the in-process executor, so the resource lives as long as the run.
    """

    convtrack: ConvtrackSettings
    wait_seconds: float = 3600.0

    @contextlib.contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator[WarehouseWriterLock]:
        path = writer_lock_path(self.convtrack.load())
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            acquire(
                fd,
                self.wait_seconds,
                lambda: context.log.info(f"waiting for another run to release {path}"),
            )
            yield self
        finally:
            os.close(fd)  # closing the descriptor releases the lock


def acquire(fd: int, wait_seconds: float, on_wait) -> None:
    """flock(fd) exclusively, telling `on_wait` once if another holder makes us wait."""
    deadline = time.monotonic() + wait_seconds
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if not told:
                on_wait()
                told = True
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"another run held the warehouse lock for {wait_seconds:.0f} s"
                ) from None
            time.sleep(0.5)


class DbtCli(DbtCliResource):
    """dagster-dbt's dbt CLI resource, without the dbt adapter it builds in this process.

    Before every invocation dagster-dbt loads dbt-core, the profile and the adapter here,
    in the run's process, to be able to fetch row counts and column metadata, which
    convtrack never asks for: seconds of every run (tens on a loaded machine), before
    the dbt subprocess, which does the work, even starts.
    """

    def _initialize_dbt_core_adapter(self, args):
        return None
