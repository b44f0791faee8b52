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

sys.path.insert(0, str(Path(__file__).resolve().parent))

# numpy goes beside the venv (BENCH_LIB), as for the pipeline bench; ROOT is on sys.path.
from pipeline_bench import BENCH_LIB, DAY_US, FIRST_DAY

SEED = 20261127
DAYS = 90
N_LINKS = 50

TARGET_ROWS_PER_S = {"parquet": 1_000_000, "jsonl": 300_000}
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


# ---------------------------------------------------------------- generation


def generate(work: Path, n_clicks: int, n_conversions: int) -> dict[str, object]:
    """One Parquet and one JSON lines file per stream under `work/input`, and the links."""
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
        given = pa.array(rng.random(n) < 0.5)
        return pc.if_else(given, uuid4_strings(rng, n), pa.scalar(None, pa.string()))

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
        con.execute("set enable_progress_bar = false")
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
            extra = ", event_data::json as event_data" if stream == "conversions" else ""
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


# ---------------------------------------------------------------- phases (child processes)


def fresh_store(data_dir: Path, links: str):
    """A new data dir holding only the campaign links, and its raw event store."""
    import pyarrow.parquet as pq

    from collector.storage import ParquetRawEventStore
    from convtrack.core.settings import Settings

    shutil.rmtree(data_dir, ignore_errors=True)
    settings = Settings(data_dir=data_dir)
    store = ParquetRawEventStore(settings.raw_dir)
    store.write_table("campaign_links", pq.read_table(links))
    return settings, store


def phase_import(a: dict) -> dict[str, object]:
    """`convtrack import FILE`, as the CLI runs it."""
    from collector.ingest.importer import import_file

    settings, _ = fresh_store(Path(a["data_dir"]), a["links"])
    result = import_file(Path(a["file"]), a["stream"], settings=settings)
    return {"accepted": result.accepted, "rejected": result.rejected}


def phase_floor(a: dict) -> dict[str, object]:
    """The floor: DuckDB reads the file and the store writes its rows, in the raw schema
    and in batches as the import does, with no validation, no ids, no truncation."""
    import duckdb
    import pyarrow as pa

    from collector.ingest.importer import BATCH_ROWS, WRITE_BUFFER_BYTES
    from convtrack.core.raw_schema import SCHEMAS

    _, store = fresh_store(Path(a["data_dir"]), a["links"])
    stream, file = a["stream"], a["file"]
    schema = SCHEMAS[stream]
    source = f"read_parquet('{file}')"
    if file.endswith(".jsonl"):
        types = {f.name: "VARCHAR" for f in schema if pa.types.is_string(f.type)}
        types.update({"revenue_amount": "DECIMAL(10,2)", a["time"]: "TIMESTAMP"})
        columns = ", ".join(
            f"{k}: '{v}'" for k, v in types.items() if k not in ("received_at", "source")
        )
        source = f"read_json('{file}', format='newline_delimited', columns={{{columns}}})"
    select = ", ".join(
        "now()::timestamp as received_at"
        if f.name == "received_at"
        else "'import' as source"
        if f.name == "source"
        else f"{f.name}::timestamp as {f.name}"
        if f.name == a["time"]
        else f.name
        for f in schema
    )
    rows, parts, size = 0, [], 0
    with duckdb.connect() as con:
        con.execute("set enable_progress_bar = false")
        reader = con.sql(f"select {select} from {source}").to_arrow_reader(BATCH_ROWS)
        for batch in reader:
            rows += batch.num_rows
            parts.append(batch)
            size += batch.nbytes
            if size >= WRITE_BUFFER_BYTES:
                store.write_table(stream, pa.Table.from_batches(parts))
                parts, size = [], 0
        if parts:
            store.write_table(stream, pa.Table.from_batches(parts))
    return {"accepted": rows, "rejected": 0}


PHASES = {"import": phase_import, "floor": phase_floor}


def run_phase(name: str, args: dict) -> dict:
    """Run one phase in a child process: its result, wall and CPU time, peak RSS."""
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--phase", name, json.dumps(args)],
        stdout=subprocess.PIPE,
        check=True,
    )
    result = json.loads(out.stdout.decode().strip().splitlines()[-1])
    result["wall_seconds"] = time.perf_counter() - t0
    return result


def child(name: str, args: dict) -> None:
    if name == "generate":
        # numpy before pyarrow is first imported, or pyarrow cannot read numpy arrays.
        sys.path.insert(0, str(BENCH_LIB))
    else:
        # Loaded before the clock starts: the figures are the import's, not start-up's.
        import duckdb  # noqa: F401

        import collector.ingest.importer  # noqa: F401

    t0, c0 = time.perf_counter(), time.process_time()
    result = PHASES[name](args)
    result["seconds"] = time.perf_counter() - t0
    result["cpu_seconds"] = time.process_time() - c0
    # The child's own peak: the import runs in this one process (DuckDB and Polars too).
    result["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(result))


# ---------------------------------------------------------------- report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clicks", type=int, default=2_000_000)
    parser.add_argument("--conversions", type=int, default=500_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/convtrack-import-bench"))
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="?", help=argparse.SUPPRESS)
    a = parser.parse_args()
    if a.phase:
        child(a.phase, json.loads(a.args))
        return

    print(
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"nproc={os.cpu_count()}, load average {os.getloadavg()[0]:.1f} at start"
    )
    t0 = time.perf_counter()
    generated = run_phase(
        "generate", {"work": str(a.work), "clicks": a.clicks, "conversions": a.conversions}
    )
    print(
        f"generated {a.clicks:,} clicks and {a.conversions:,} conversions in {time.perf_counter() - t0:.0f} s"
    )
    data_dir = a.work / "data"
    totals: dict[tuple[str, str], list[float]] = {}
    print(
        f"\n{'file':<18} {'rows':>10} {'import s':>9} {'rows/s':>10} {'CPU s':>6} {'peak RSS':>9}"
        f"   {'floor s':>8} {'rows/s':>10} {'peak RSS':>9}   {'import/floor':>12}"
    )
    for fmt in TARGET_ROWS_PER_S:
        for stream in ("clicks", "conversions"):
            spec = generated["files"][stream]
            args = {
                "data_dir": str(data_dir),
                "links": generated["links"],
                "file": spec[fmt],
                "stream": stream,
                "time": "clicked_at" if stream == "clicks" else "converted_at",
            }
            imp = run_phase("import", args)
            floor = run_phase("floor", args)
            rows = spec["rows"]
            assert imp["accepted"] + imp["rejected"] == rows == floor["accepted"], (imp, floor)
            for kind, r in (("import", imp), ("floor", floor)):
                t = totals.setdefault((fmt, kind), [0, 0.0, 0])
                t[0] += rows
                t[1] += r["seconds"]
                t[2] = max(t[2], r["peak_rss"])
            print(
                f"{stream + '.' + fmt:<18} {rows:>10,} {imp['seconds']:>9.2f} "
                f"{rows / imp['seconds']:>10,.0f} {imp['cpu_seconds']:>6.1f} "
                f"{imp['peak_rss'] / 2**20:>7,.0f}MB   {floor['seconds']:>8.2f} "
                f"{rows / floor['seconds']:>10,.0f} {floor['peak_rss'] / 2**20:>7,.0f}MB   "
                f"{imp['seconds'] / floor['seconds']:>11.2f}x"
            )
    print()
    for fmt, target in TARGET_ROWS_PER_S.items():
        rows, seconds, peak = totals[fmt, "import"]
        _, floor_seconds, _ = totals[fmt, "floor"]
        rate = rows / seconds
        verdict = "met" if rate >= target else "MISSED"
        print(
            f"{fmt:<8} import {rate:>10,.0f} rows/s (floor {rows / floor_seconds:,.0f} rows/s), "
            f"peak {peak / 2**20:,.0f} MB; target >= {target:,} rows/s: {verdict}"
        )
    print(f"load average {os.getloadavg()[0]:.1f} at end")
    if not a.keep:
        shutil.rmtree(a.work, ignore_errors=True)


PHASES["generate"] = lambda a: generate(Path(a["work"]), a["clicks"], a["conversions"])

if __name__ == "__main__":
    main()
