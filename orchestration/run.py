"""Headless runs of the pipeline job: what `convtrack pipeline run` does."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from convtrack import raw_schema
from convtrack.rules import DBT_PROJECT_DIR, REPO_ROOT
from convtrack.settings import Settings
from orchestration.retention import retention_cutoff

DAGSTER_YAML = REPO_ROOT / "dagster.yaml"


def ensure_manifest() -> Path:
    """Parse the dbt project when its manifest is missing or older than a model, macro or
    yml: dagster-dbt reads the manifest at import, and a stale one fails mid-run."""
    manifest = DBT_PROJECT_DIR / "target" / "manifest.json"
    sources = [
        p
        for pattern in ("models/**/*", "macros/**/*", "tests/**/*", "dbt_project.yml")
        for p in DBT_PROJECT_DIR.glob(pattern)
        if p.is_file()
    ]
    built = manifest.stat().st_mtime if manifest.exists() else 0.0
    if any(p.stat().st_mtime > built for p in sources):
        dbt = Path(sys.executable).with_name("dbt")
        subprocess.run(
            [str(dbt), "parse", "--quiet", "--project-dir", ".", "--profiles-dir", "."],
            cwd=DBT_PROJECT_DIR,
            check=True,
        )
    return manifest


def prepare_dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME lives in the data dir, with the repository's dagster.yaml in it."""
    home = settings.dagster_home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists() or target.read_bytes() != DAGSTER_YAML.read_bytes():
        shutil.copyfile(DAGSTER_YAML, target)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def first_raw_day(settings: Settings) -> dt.date | None:
    days = [d for s in raw_schema.STREAMS for d in raw_schema.partition_days(settings.raw_dir, s)]
    return min(days) if days else None


@dataclass(frozen=True)
class PipelineRun:
    run_id: str
    first_day: dt.date
    last_day: dt.date
    success: bool


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


def _loggers(log_level: str) -> dict:
    return {"loggers": {"console": {"config": {"log_level": log_level}}}}


def run_pipeline(
    settings: Settings, as_of: dt.date, *, instance=None, log_level: str = "INFO"
) -> PipelineRun | None:
    """Materialise every day with raw data up to `as_of` in ONE run, then publish.

    Returns None when there is no raw data on or before `as_of`.
    """
    first = first_raw_day(settings)
    if first is None or first > as_of:
        return None
    ensure_manifest()
    from orchestration.definitions import defs
    from orchestration.partitions import range_tags

    result = defs.resolve_job_def("pipeline").execute_in_process(
        instance=_instance(settings, instance),
        tags=range_tags(first, as_of),
        resources=_resources(settings),
        run_config=_loggers(log_level),
        raise_on_error=False,
    )
    return PipelineRun(result.run_id, first, as_of, result.success)


def run_prune(
    settings: Settings, as_of: dt.date, *, instance=None, log_level: str = "INFO"
) -> PipelineRun:
    """Apply retention as of `as_of` to the warehouse and data/raw, then republish."""
    ensure_manifest()
    from orchestration.definitions import defs

    run_config = {
        **_loggers(log_level),
        "ops": {"prune_warehouse": {"config": {"as_of": as_of.isoformat()}}},
    }
    result = defs.resolve_job_def("prune").execute_in_process(
        instance=_instance(settings, instance),
        resources=_resources(settings),
        run_config=run_config,
        raise_on_error=False,
    )
    first = retention_cutoff(as_of, settings.retention_days)
    return PipelineRun(result.run_id, first, as_of, result.success)
