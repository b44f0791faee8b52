"""convtrack installs like any package: `pip install .` into a fresh virtualenv, outside
the repository, then `convtrack pipeline run` on a small data directory builds the marts
from the dbt project that shipped inside the wheel."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2026, 3, 10)

# A small history, written with the installed package's own schema and file helpers.
WRITE_RAW = """
import datetime as dt, sys
from decimal import Decimal
from pathlib import Path
import pyarrow as pa
from convtrack.core.files import write_parquet_atomically
from convtrack.core.raw_schema import SCHEMAS, partition_dir

raw = Path(sys.argv[1]) / "raw"
link, day = "01a212cd-fcab-74e8-bbb7-203e94aeca9b", dt.date(2026, 3, 1)
t = dt.datetime(2026, 3, 1, 12)
rows = {
    "campaign_links": [dict(campaign_link_id=link, short_code="desk",
        destination_url="https://creator.example/", campaign_name="Desk",
        youtube_video_id="vid1", placement="description", created_at=t, disabled_at=None,
        recorded_at=t)],
    "clicks": [dict(event_id=f"00000000-0000-4000-8000-00000000000{i}",
        tracking_id=f"00000000-0000-4000-9000-00000000000{i}", campaign_link_id=link,
        clicked_at=t, received_at=t, ip_address=None, user_agent="Mozilla/5.0",
        referrer=None, source="import") for i in range(3)],
    "conversions": [dict(event_id=f"00000000-0000-4000-a000-00000000000{i}",
        tracking_id=f"00000000-0000-4000-9000-00000000000{i}", campaign_link_id=link,
        event_type=kind, revenue_amount=amount, currency="USD", order_id=None,
        event_data=None, converted_at=t + dt.timedelta(hours=1),
        received_at=t + dt.timedelta(hours=1), source="import")
        for i, (kind, amount) in enumerate([("purchase", Decimal("10.00")),
                                            ("newsletter_signup", None)])],
}
for stream, stream_rows in rows.items():
    table = pa.Table.from_pylist(stream_rows, schema=SCHEMAS[stream])
    write_parquet_atomically(table, partition_dir(raw, stream, day) / "w-00000001.parquet")
"""


@pytest.mark.slow
def test_a_plain_install_outside_the_repository_runs_the_pipeline(tmp_path):
    venv, data = tmp_path / "venv", tmp_path / "data"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [
            str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "-c", str(REPO / "requirements.lock"), str(REPO),
        ],
        check=True,
        cwd=tmp_path,
    )  # fmt: skip
    env = {
        # Nothing of the checkout: not its .venv on PATH, not its sources on sys.path.
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "CONVTRACK_DATA_DIR": str(data),
        **{k: v for k, v in os.environ.items() if k in ("LANG", "TMPDIR")},
    }
    located = subprocess.run(
        [str(python), "-c", "import convtrack.core.rules as r; print(r.DBT_PROJECT_DIR)"],
        env=env, cwd=tmp_path, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert Path(located.stdout.strip()).is_relative_to(venv)
    subprocess.run([str(python), "-c", WRITE_RAW, str(data)], env=env, cwd=tmp_path, check=True)

    run = subprocess.run(
        [str(venv / "bin" / "convtrack"), "pipeline", "run", "--as-of", AS_OF.isoformat()],
        env=env, cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    with duckdb.connect(str(data / "warehouse" / "published.duckdb"), read_only=True) as con:
        funnel = con.execute(
            "select clicks, converting_clicks, conversions, purchases, newsletter_signups, "
            "revenue from mart_conversion_funnel"
        ).fetchall()
        (as_of,) = con.execute("select as_of from _meta").fetchone()
    assert funnel == [(3, 2, 2, 1, 1, 10)]
    assert as_of == AS_OF
    # The manifest went to the user's cache, not into the installed package.
    assert list((tmp_path / "cache" / "convtrack").glob("dbt-*/manifest.json"))
    assert not list(venv.glob("lib/python*/site-packages/convtrack/core/dbt_project/target"))
