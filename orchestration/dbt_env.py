"""How a dbt subprocess finds this run's warehouse."""

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from convtrack.core.settings import Settings
from orchestration.build_range import DBT_ENV_PREFIX

# dbt's name for it (dagster-dbt's PARTIAL_PARSE_FILE_NAME).
PARTIAL_PARSE_FILE = "partial_parse.msgpack"


def dbt_artifacts_dir(settings: Settings) -> Path:
    """Where each dbt invocation of a run leaves its artifacts and log (one folder each)."""
    return settings.data_dir.resolve() / "dbt"


def point_dbt_at(settings: Settings, run_env: Mapping[str, str] | None = None) -> None:
    """profiles.yml finds the warehouse through CONVTRACK_DATA_DIR; dbt runs as a
    subprocess inheriting our environment, and must see the same data dir as this run.
    Its artifacts go to the data dir too (DBT_TARGET_PATH, under which dagster-dbt makes
    one folder per invocation), never into the installed project. `run_env`: what the
    run tells the models (orchestration.build_range.dbt_run_env)."""
    artifacts = dbt_artifacts_dir(settings)
    os.environ["CONVTRACK_DATA_DIR"] = str(settings.data_dir.resolve())
    os.environ["DBT_TARGET_PATH"] = str(artifacts)
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    for name in [n for n in os.environ if n.startswith(DBT_ENV_PREFIX)]:
        del os.environ[name]  # an earlier run's, in this process
    os.environ.update(run_env or {})
    forget_old_artifacts(artifacts)


def keep_partial_parse(settings: Settings, invocation_target: Path) -> None:
    """Keep what an invocation parsed for the next one in this data directory.

    dagster-dbt starts each invocation from DBT_TARGET_PATH's partial_parse.msgpack when
    there is one, so the next run re-parses only the files whose inputs changed (a
    model edited, a run value it reads while parsing) instead of the whole project.
    Per data directory, because the parse depends on its profile (the warehouse path)."""
    parsed = invocation_target / PARTIAL_PARSE_FILE
    if parsed.exists():
        shared = dbt_artifacts_dir(settings) / PARTIAL_PARSE_FILE
        tmp = shared.with_name(f".{PARTIAL_PARSE_FILE}.{os.getpid()}.tmp")
        shutil.copyfile(parsed, tmp)
        os.replace(tmp, shared)


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
