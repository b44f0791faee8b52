"""Headless runs of the pipeline job: what `convtrack pipeline run` does."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from convtrack.core.raw_partitions import RawPartitions, SetAside, scan_raw_partitions
from convtrack.core.settings import Settings
from orchestration.retention import retention_cutoff

# The instance settings shipped with the package (the repository's dagster.yaml).
DAGSTER_YAML = Path(__file__).with_name("dagster.yaml")


def prepare_dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME lives in the data dir, with the shipped dagster.yaml in it."""
    home = settings.dagster_home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists() or target.read_bytes() != DAGSTER_YAML.read_bytes():
        shutil.copyfile(DAGSTER_YAML, target)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def first_raw_day(settings: Settings, as_of: dt.date | None = None) -> dt.date | None:
    """The first day with raw data the pipeline can build, up to `as_of` (default today)."""
    last = as_of or dt.datetime.now(dt.UTC).date()
    return scan_raw_partitions(settings.raw_dir, last).first_day


@dataclass(frozen=True)
class PipelineRun:
    run_id: str
    first_day: dt.date
    last_day: dt.date
    success: bool
    # Raw entries the run did not load (see orchestration/raw_partitions.py).
    set_aside: tuple[SetAside, ...] = ()


def _resources(settings: Settings) -> dict:
    from orchestration.resources import ConvtrackSettings, WarehouseWriterLock

    convtrack = ConvtrackSettings(data_dir=str(settings.data_dir.resolve()))
    return {"convtrack": convtrack, "warehouse_lock": WarehouseWriterLock(convtrack=convtrack)}


def _instance(settings: Settings, instance):
    from dagster import DagsterInstance

    if instance is not None:
        return instance
    prepare_dagster_home(settings)
    return DagsterInstance.get()


def run_pipeline(
    settings: Settings,
    as_of: dt.date,
    *,
    instance=None,
    log_level: str = "INFO",
    raw: RawPartitions | None = None,
    first_day: dt.date | None = None,
) -> PipelineRun | None:
    """Materialise every day with raw data up to `as_of` in ONE run, then publish.

    The run starts at the first day with raw data inside the pipeline's partitions, or
    at `first_day` when given (as the raw-data sensor starts at the first day with new
    files); entries outside the partitions are set aside (`PipelineRun.set_aside`).
    `raw` is a scan made as of `as_of` by the caller, to report before the run. Returns
    None when there is no raw data to build on or before `as_of`.
    """
    raw = raw or scan_raw_partitions(settings.raw_dir, as_of)
    first = raw.first_day
    if first is None:
        return None
    first = max(first, first_day) if first_day else first
    from orchestration.build_range import build_run_config
    from orchestration.definitions import defs

    result = defs.resolve_job_def("pipeline").execute_in_process(
        instance=_instance(settings, instance),
        resources=_resources(settings),
        run_config=build_run_config(first, as_of, log_level=log_level),
        raise_on_error=False,
    )
    return PipelineRun(result.run_id, first, as_of, result.success, tuple(raw.set_aside))


@dataclass(frozen=True)
class PruneRun:
    run_id: str
    as_of: dt.date
    # Row-level data whose click is before this day was removed.
    cutoff: dt.date
    success: bool


def run_prune(
    settings: Settings, as_of: dt.date, *, instance=None, log_level: str = "INFO"
) -> PruneRun:
    """Apply retention as of `as_of` to the warehouse and data/raw, then republish."""
    from orchestration.definitions import defs
    from orchestration.maintenance import prune_run_config

    result = defs.resolve_job_def("prune").execute_in_process(
        instance=_instance(settings, instance),
        resources=_resources(settings),
        run_config=prune_run_config(as_of, log_level=log_level),
        raise_on_error=False,
    )
    cutoff = retention_cutoff(as_of, settings.retention_days)
    return PruneRun(result.run_id, as_of, cutoff, result.success)
