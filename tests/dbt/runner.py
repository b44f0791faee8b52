"""dbt in this process, parsed once, for the dbt suites.

A fresh `dbt` process costs ~20 s of imports and parsing on this machine; the suites run a
dozen builds, so they share one parsed manifest and invoke dbt in-process. Vars only
reach models at compile time, so one manifest serves every set of vars. The project's own
target/ (the manifest Dagster loads) is never written: output goes to a temp dir.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from dbt.adapters.duckdb.connections import DuckDBConnectionManager
from dbt.cli.main import dbtRunner, dbtRunnerResult

from convtrack.core.rules import DBT_PROJECT_DIR


class Dbt:
    """Every call is a fresh dbt invocation on the warehouse under `data_dir`."""

    def __init__(self, work_dir: Path):
        self.work_dir = work_dir
        self.log_path = work_dir / "dbt_logs"
        self.manifest = None
        self.manifest = self._invoke(work_dir, ["parse"]).result

    def _invoke(self, data_dir: Path, args: list[str]) -> dbtRunnerResult:
        saved = os.environ.get("CONVTRACK_DATA_DIR")
        os.environ["CONVTRACK_DATA_DIR"] = str(data_dir)
        try:
            return dbtRunner(manifest=self.manifest).invoke(
                [
                    *args,
                    "--project-dir", str(DBT_PROJECT_DIR),
                    "--profiles-dir", str(DBT_PROJECT_DIR),
                    "--target-path", str(self.work_dir / "dbt_target"),
                    "--log-path", str(self.log_path),
                    "--quiet",
                ]
            )  # fmt: skip
        finally:
            if saved is None:
                os.environ.pop("CONVTRACK_DATA_DIR", None)
            else:
                os.environ["CONVTRACK_DATA_DIR"] = saved
            # dbt-duckdb keeps its database open for the life of the process; the tests
            # open the file next, so close it (the one private name used here).
            if DuckDBConnectionManager._ENV is not None:
                DuckDBConnectionManager._ENV.close()
                DuckDBConnectionManager._ENV = None

    def log_tail(self, chars: int = 6000) -> str:
        log = self.log_path / "dbt.log"
        return log.read_text()[-chars:] if log.exists() else ""

    def build(self, data_dir: Path, dbt_vars: dict, extra: tuple | list = ()) -> None:
        """`dbt build` (models, unit and data tests); fails the test if anything fails."""
        result = self._invoke(data_dir, ["build", *extra, "--vars", json.dumps(dbt_vars)])
        assert result.success, f"dbt build failed: {result.exception}\n{self.log_tail()}"

    def prune(
        self,
        data_dir: Path,
        *,
        as_of: str,
        retention_days: int | None,
        timezone: str,
        fail_after: str | None = None,
    ) -> dbtRunnerResult:
        """The retention operation, as the orchestration calls it (None: without
        retention_days, which the macro refuses); `fail_after`: the step after which it
        stops, as a crash there would."""
        args: dict[str, object] = {"as_of": str(as_of)}
        if retention_days is not None:
            args["retention_days"] = retention_days
        if fail_after is not None:
            args["fail_after"] = fail_after
        return self._invoke(
            data_dir,
            [
                "run-operation", "prune_row_level_data",
                "--args", json.dumps(args),
                "--vars", json.dumps({"reporting_timezone": timezone}),
            ],
        )  # fmt: skip
