"""How a dbt subprocess finds this run's warehouse."""

import os
import shutil
from pathlib import Path

from convtrack.core.settings import Settings


def dbt_artifacts_dir(settings: Settings) -> Path:
    """Where each dbt invocation of a run leaves its artifacts and log (one folder each)."""
    return settings.data_dir.resolve() / "dbt"


def point_dbt_at(settings: Settings) -> None:
    """profiles.yml finds the warehouse through CONVTRACK_DATA_DIR; dbt runs as a
    subprocess inheriting our environment, and must see the same data dir as this run.
    Its artifacts go to the data dir too (DBT_TARGET_PATH, under which dagster-dbt makes
    one folder per invocation), never into the installed project."""
    os.environ["CONVTRACK_DATA_DIR"] = str(settings.data_dir.resolve())
    os.environ["DBT_TARGET_PATH"] = str(dbt_artifacts_dir(settings))
    forget_old_artifacts(dbt_artifacts_dir(settings))


# Each invocation leaves a folder of a few MB (manifest, run results, log); an hourly
# schedule would fill the disk. The newest ones are kept to look into recent runs.
KEPT_INVOCATIONS = 20


def forget_old_artifacts(directory: Path, keep: int = KEPT_INVOCATIONS) -> None:
    """Delete all but the `keep` newest invocation folders in `directory`."""
    if not directory.is_dir():
        return
    folders = sorted(
        (p for p in directory.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime
    )
    for old in folders[: max(0, len(folders) - keep)]:
        shutil.rmtree(old, ignore_errors=True)
