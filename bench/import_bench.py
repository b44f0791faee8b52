"""File import benchmark: clicks and conversions from Parquet and from JSON lines.

Not a test. Generates `--clicks` clicks and `--conversions` conversions over 90 days
(numpy + pyarrow, fixed seed, the shapes of `pipeline_bench.generate`), writes each as
one Parquet file and one JSON lines file outside any data directory, then imports each
file with `import_file` into a fresh data dir, in a child process of its own, and
prints rows/s and the child's peak RSS.

Beside each import, in the same run, the floor: DuckDB reading the same file and
writing the same rows into day partitions with no validation at all. Half the rows
carry no event_id, so the deterministic ids are part of the work measured.

    .venv/bin/python bench/import_bench.py [--clicks 2000000] [--conversions 500000]
        [--work /tmp/convtrack-import-bench] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

# numpy is not a project dependency: `make bench-import` installs it beside the venv.
BENCH_LIB = ROOT / ".venv" / "bench-lib"

SEED = 20261127
FIRST_DAY = dt.date(2026, 8, 1)
DAYS = 90
DAY_US = 86_400_000_000
N_LINKS = 50

TARGET_ROWS_PER_S = {"parquet": 1_000_000, "jsonl": 300_000}
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


# ---------------------------------------------------------------- generation


def generate(work: Path, n_clicks: int, n_conversions: int) -> dict[str, object]:
    """One Parquet and one JSON lines file per stream under `work/input`, and the links."""
    sys.path.insert(0, str(BENCH_LIB))
    import duckdb
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from pipeline_bench import (
        BOT_AGENTS,
        EVENT_DATA,
        HUMAN_AGENTS,
        REFERRERS,
        money,
        pick,
        timestamps,
        uuid4_strings,
    )

    rng = np.random.default_rng(SEED)
    start_us = (FIRST_DAY - dt.date(1970, 1, 1)).days * DAY_US
    end_us = start_us + DAYS * DAY_US
    link_ids = uuid4_strings(rng, N_LINKS)
    # One link in 200 rows is not registered: refused rows are part of the work.
    unknown = uuid4_strings(rng, 1)

    def links(n: int):
        ids = link_ids.take(pa.array(rng.integers(0, N_LINKS, n)))
        return pc.if_else(pa.array(rng.random(n) < 0.005), unknown[0], ids)

    def event_ids(n: int):
        # Half the rows bring no event_id: the importer derives one.
        return pc.if_else(pa.array(rng.random(n) < 0.5), uuid4_strings(rng, n), pa.scalar(None, pa.string()))

    agents = HUMAN_AGENTS + BOT_AGENTS
    ip_pool = [f"{a}.{b}.{c}.{d}" for a, b, c, d in rng.integers(1, 255, size=(50_000, 4))]
    clicks = pa.table(
        {
            "event_id": event_ids(n_clicks),
            "tracking_id": uuid4_strings(rng, n_clicks),
            "campaign_link_id": links(n_clicks),
            "clicked_at": timestamps(np.sort(rng.integers(start_us, end_us, n_clicks))),
            "ip_address": pick(ip_pool, rng.integers(0, len(ip_pool), n_clicks)),
            "user_agent": pick(agents, rng.integers(0, len(agents), n_clicks)),
            "referrer": pick(REFERRERS, rng.integers(0, len(REFERRERS), n_clicks)),
        }
    )
    n = n_conversions
    kind = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
    cents = rng.integers(999, 29_900, n).astype(np.int64)
    conversions = pa.table(
        {
            "event_id": event_ids(n),
            "tracking_id": uuid4_strings(rng, n),
            "campaign_link_id": links(n),
            "event_type": pick(["newsletter_signup", "course_enrollment", "purchase"], kind),
            "revenue_amount": money(cents, kind > 0),
            "currency": pick(["USD"], np.zeros(n, dtype=np.int64)),
            "order_id": pc.if_else(
                pa.array(kind == 2), uuid4_strings(rng, n), pa.scalar(None, pa.string())
            ),
            "event_data": pc.if_else(
                pa.array(rng.random(n) < 0.2),
                pick(EVENT_DATA, rng.integers(0, len(EVENT_DATA), n)),
                pa.scalar(None, pa.string()),
            ),
            "converted_at": timestamps(np.sort(rng.integers(start_us, end_us, n))),
        }
    )
    inputs = work / "input"
    shutil.rmtree(inputs, ignore_errors=True)
    inputs.mkdir(parents=True)
    files = {}
    with duckdb.connect() as con:
        for stream, table, time_col in (
            ("clicks", clicks, "clicked_at"),
            ("conversions", conversions, "converted_at"),
        ):
            parquet = inputs / f"{stream}.parquet"
            pq.write_table(table, parquet)
            # JSON lines as an export writes them: ISO times with Z, revenue as a number,
            # event_data as an object, absent values as null.
            jsonl = inputs / f"{stream}.jsonl"
            con.register("t", table)
            extra = (
                ", event_data::json as event_data" if stream == "conversions" else ""
            )
            con.execute(
                f"copy (select * replace (strftime({time_col}, '{TIME_FORMAT}') as {time_col}"
                f"{extra}) from t) to '{jsonl}' (format json)"
            )
            con.unregister("t")
            files[stream] = {"parquet": str(parquet), "jsonl": str(jsonl), "rows": table.num_rows}
    now = dt.datetime(2026, 7, 1)
    links_table = pa.table(
        {
            "campaign_link_id": link_ids,
            "short_code": pa.array([f"bench-{i:03d}" for i in range(N_LINKS)]),
            "destination_url": pa.array(["https://example.com/course"] * N_LINKS),
            "campaign_name": pa.nulls(N_LINKS, pa.string()),
            "youtube_video_id": pa.nulls(N_LINKS, pa.string()),
            "placement": pa.nulls(N_LINKS, pa.string()),
            "created_at": pa.array([now] * N_LINKS, pa.timestamp("us")),
            "disabled_at": pa.nulls(N_LINKS, pa.timestamp("us")),
            "recorded_at": pa.array([now] * N_LINKS, pa.timestamp("us")),
        }
    )
    pq.write_table(links_table, inputs / "campaign_links.parquet")
    return {"files": files, "links": str(inputs / "campaign_links.parquet")}
