"""How a dbt subprocess finds this run's warehouse."""

import contextlib
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

from convtrack.core.settings import Settings
from orchestration.build_range import DBT_ENV_PREFIX, dbt_target

# dbt's name for it (dagster-dbt's PARTIAL_PARSE_FILE_NAME).
PARTIAL_PARSE_FILE = "partial_parse.msgpack"


def dbt_artifacts_dir(settings: Settings) -> Path:
    """Where each dbt invocation of a run leaves its artifacts and log (one folder each)."""
    return settings.data_dir.resolve() / "dbt"


@contextlib.contextmanager
def dbt_environment(settings: Settings, run_env: Mapping[str, str] | None = None) -> Iterator[None]:
    """The environment a dbt subprocess started inside this block inherits; the process's
    own is restored after (one run's values must not leak into the next, nor into an
    in-process dbt).

    profiles.yml finds the warehouse through CONVTRACK_DATA_DIR: dbt must see this run's
    data dir. Its artifacts go to the data dir too (DBT_TARGET_PATH, under which
    dagster-dbt makes one folder per invocation), never into the installed project.
    `run_env`: what the run tells the models (orchestration.build_range.dbt_run_env)."""
    artifacts = dbt_artifacts_dir(settings)
    forget_old_artifacts(artifacts)
    saved = dict(os.environ)
    try:
        for name in [n for n in os.environ if n.startswith(DBT_ENV_PREFIX)]:
            del os.environ[name]
        os.environ.update(
            {
                "CONVTRACK_DATA_DIR": str(settings.data_dir.resolve()),
                "DBT_TARGET_PATH": str(artifacts),
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                **(run_env or {}),
            }
        )
        if dbt_target(settings) == "spark" and settings.spark_master.startswith("local"):
            # A session on this machine: Spark binds to loopback instead of whatever
            # address the host name resolves to (and warns about it).
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


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
