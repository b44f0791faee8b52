"""`make docs`: the dbt project's documentation site, as one HTML file that opens offline.

`dbt docs generate` reads column types from a warehouse (its catalog), and a fresh clone
has none. So every model is built once, empty, in a throwaway DuckDB: the raw tables are
created empty from the raw streams' schemas (convtrack.core.raw_schema), `dbt run` builds
the models on them, and `dbt docs generate --static` writes `static_index.html`, which
carries the manifest and the catalog inside it. The real warehouse, `data/` and
`dbt_project/target/` are never touched.

dbt's usage statistics are off: with them on, the page loads a tracker script from a CDN
and so is no longer offline.

    .venv/bin/python docs/dbt_docs.py [--out docs/dbt/index.html]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import duckdb
from dbt.cli.main import dbtRunner

from convtrack.core.raw_schema import SCHEMAS
from convtrack.core.rules import DBT_PROJECT_DIR

DEFAULT_OUT = Path(__file__).resolve().parent / "dbt" / "index.html"


def create_empty_raw_tables(warehouse: Path) -> None:
    """The `raw` schema as the pipeline's loader leaves it, without rows: each stream's
    columns plus `dt`, the day of its partition."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema raw")
        for stream, schema in SCHEMAS.items():
            con.register("empty_stream", schema.empty_table())
            con.execute(
                f"create table raw.{stream} as select *, cast(null as date) as dt from empty_stream"
            )
            con.unregister("empty_stream")


def generate(out: Path = DEFAULT_OUT) -> Path:
    """Write the static dbt docs site to `out` and return it."""
    with tempfile.TemporaryDirectory(prefix="convtrack-dbt-docs-") as tmp:
        work = Path(tmp)
        (work / "warehouse").mkdir()
        create_empty_raw_tables(work / "warehouse" / "warehouse.duckdb")
        # profiles.yml puts the warehouse under CONVTRACK_DATA_DIR.
        os.environ["CONVTRACK_DATA_DIR"] = str(work)
        os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
        common = [
            "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
            "--quiet",
        ]  # fmt: skip
        dbt = dbtRunner()
        for command in (["run"], ["docs", "generate", "--static"]):
            result = dbt.invoke([*command, *common])
            if not result.success:
                log = work / "logs" / "dbt.log"
                tail = log.read_text()[-4000:] if log.exists() else ""
                raise RuntimeError(f"dbt {' '.join(command)} failed: {result.exception}\n{tail}")
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(work / "target" / "static_index.html", out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the HTML file to write")
    out = generate(parser.parse_args().out)
    print(f"dbt docs: {out} (open it in a browser; no server or network needed)", file=sys.stderr)


if __name__ == "__main__":
    main()
