"""Pipeline benchmark: 10M clicks + 1M conversions over 90 days, then one more day.

Not a test. Generates the history (numpy + pyarrow, fixed seed) as Parquet import files
outside any data directory, imports them with `import_file` into a fresh data dir, runs
the whole Dagster job (`run_pipeline`), then the hand-written DuckDB script
`bench/baseline_marts.sql` on the same raw files, checks that both give the same marts,
and finally imports a 91st day and runs the job for that day alone.

Each phase runs in its own Python process, so its peak memory is its own: the bench
samples the RSS of the phase process and all its descendants (dbt is a subprocess) from
/proc every 50 ms and reports the peak of the sum, next to getrusage's max RSS.

    .venv/bin/python bench/pipeline_bench.py [--clicks 10000000] [--conversions 1000000]
        [--days 90] [--links 50] [--work /tmp/convtrack-pipeline-bench] [--keep]
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
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

# numpy is not a project dependency: `make bench-pipeline` installs it here, beside the
# venv, and only the generate phase puts it on sys.path.
BENCH_LIB = ROOT / ".venv" / "bench-lib"

SEED = 20261125
FIRST_DAY = dt.date(2026, 8, 1)
DAY_US = 86_400_000_000

TARGET_PIPELINE_S = 60.0
TARGET_PEAK_GB = 4.0
TARGET_RATIO_TO_BASELINE = 2.0
TARGET_NEW_DAY_SHARE = 0.15

HUMAN_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
]
BOT_AGENTS = [
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "WhatsApp/2.23.20.0",
    "TelegramBot (like TwitterBot)",
    "curl/8.5.0",
    "python-requests/2.32.3",
]
REFERRERS = [
    None,
    "https://www.youtube.com/",
    "https://m.youtube.com/",
    "https://www.google.com/",
    "https://t.co/",
]
EVENT_DATA = [
    '{"plan": "pro"}',
    '{"plan": "basic", "coupon": "LAUNCH10"}',
    '{"page": "/checkout", "ab": "b"}',
]


# ---------------------------------------------------------------- generation (vectorised)


def uuid4_strings(rng, n: int):
    """n random UUIDv4 texts as an Arrow string array, built from bytes (no Python loop)."""
    import numpy as np
    import pyarrow as pa

    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexdigits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    nibbles = np.empty((n, 32), dtype=np.uint8)
    nibbles[:, 0::2] = raw >> 4
    nibbles[:, 1::2] = raw & 0x0F
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    for src, dst in ((0, 0), (8, 9), (12, 14), (16, 19), (20, 24)):
        width = {0: 8, 8: 4, 12: 4, 16: 4, 20: 12}[src]
        text[:, dst : dst + width] = hexdigits[nibbles[:, src : src + width]]
    offsets = np.arange(0, 36 * (n + 1), 36, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text.tobytes()))


def pick(pool: list, index):
    import pyarrow as pa

    return pa.array(pool, pa.string()).take(pa.array(index))


def timestamps(us):
    import pyarrow as pa

    return pa.array(us, pa.int64()).cast(pa.timestamp("us"))


def money(cents, valid):
    """decimal(10,2) from integer cents, null where not `valid`."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    words = np.zeros((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    arr = pa.Array.from_buffers(pa.decimal128(10, 2), len(cents), [None, pa.py_buffer(words)])
    return pc.if_else(pa.array(valid), arr, pa.scalar(None, pa.decimal128(10, 2)))


def with_copies(rng, table, share: float):
    """Append exact copies of a `share` of the rows (retries and re-sent exports)."""
    import numpy as np

    n = table.num_rows
    copies = np.sort(rng.choice(n, size=int(n * share), replace=False))
    return table.take(np.concatenate([np.arange(n), copies]))


def generate(
    work: Path, n_clicks: int, n_conversions: int, days: int, n_links: int
) -> dict[str, object]:
    """History (`days` days) and one more day, as Parquet import files under `work`."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rng = np.random.default_rng(SEED)
    start_us = (FIRST_DAY - dt.date(1970, 1, 1)).days * DAY_US
    history_end_us = start_us + days * DAY_US
    end_us = history_end_us + DAY_US  # the 91st day
    total_clicks = n_clicks * (days + 1) // days

    # Links: a few hits and a long tail (Zipf-like weights).
    link_ids = uuid4_strings(rng, n_links)
    weights = 1.0 / np.arange(1, n_links + 1) ** 0.9
    weights /= weights.sum()
    link_of_click = rng.choice(n_links, size=total_clicks, p=weights)

    clicked = rng.integers(start_us, end_us, size=total_clicks)
    is_bot = rng.random(total_clicks) < 0.08
    agent = np.where(
        is_bot,
        rng.integers(0, len(BOT_AGENTS), total_clicks) + len(HUMAN_AGENTS),
        rng.integers(0, len(HUMAN_AGENTS), total_clicks),
    )
    tracking = uuid4_strings(rng, total_clicks)
    # Imported history may repeat a tracking id: 0.2 % of clicks reuse an earlier one.
    reuse = np.flatnonzero(rng.random(total_clicks) < 0.002)
    tracking_index = np.arange(total_clicks)
    tracking_index[reuse] = rng.integers(0, total_clicks, size=len(reuse))
    tracking = tracking.take(pa.array(tracking_index))
    ip_pool = [f"{a}.{b}.{c}.{d}" for a, b, c, d in rng.integers(1, 255, size=(50_000, 4))]
    clicks = pa.table(
        {
            "event_id": uuid4_strings(rng, total_clicks),
            "tracking_id": tracking,
            "campaign_link_id": link_ids.take(pa.array(link_of_click)),
            "clicked_at": timestamps(clicked),
            "ip_address": pick(ip_pool, rng.integers(0, len(ip_pool), total_clicks)),
            "user_agent": pick(HUMAN_AGENTS + BOT_AGENTS, agent),
            "referrer": pick(REFERRERS, rng.integers(0, len(REFERRERS), total_clicks)),
        }
    )

    # Conversions: most follow a human click, some a bot-flagged one, a few no click at all.
    draw = int(n_conversions * (days + 1) / days * 1.25)
    human = np.flatnonzero(~is_bot)
    source_click = np.where(
        rng.random(draw) < 0.99,
        human[rng.integers(0, len(human), draw)],
        rng.integers(0, total_clicks, draw),
    )
    u = rng.random(draw)
    delay = np.select(
        [u < 0.55, u < 0.85, u < 0.93, u < 0.985, u < 0.995],
        [
            rng.exponential(2 * 3_600e6, draw),  # same session, mostly
            rng.uniform(DAY_US, 30 * DAY_US, draw),  # inside the window
            rng.uniform(30 * DAY_US, 31 * DAY_US, draw),  # day 30: still counts
            rng.uniform(31 * DAY_US, 40 * DAY_US, draw),  # window_expired
            rng.uniform(-300e6, 0, draw),  # clock skew: day 0
        ],
        rng.uniform(-6 * 3_600e6, -301e6, draw),  # before_click
    ).astype(np.int64)
    converted = clicked[source_click] + delay
    no_click = rng.random(draw) < 0.03
    converted = np.where(no_click, rng.integers(start_us, end_us, draw), converted)
    keep = np.flatnonzero((converted >= start_us) & (converted < end_us))
    keep = keep[: n_conversions * (days + 1) // days]
    n = len(keep)
    source_click, converted, no_click = source_click[keep], converted[keep], no_click[keep]
    conv_link = link_of_click[source_click]
    mismatch = rng.random(n) < 0.005
    conv_link = np.where(mismatch, (conv_link + 1) % n_links, conv_link)
    conv_tracking = pc.if_else(
        pa.array(no_click), uuid4_strings(rng, n), tracking.take(pa.array(source_click))
    )
    kind = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])  # newsletter, course, purchase
    cents = np.where(
        kind == 1, rng.integers(4_900, 29_900, n), rng.integers(999, 99_999, n)
    ).astype(np.int64)
    purchase = np.flatnonzero(kind == 2)
    order_ids = uuid4_strings(rng, n)
    # 2 % of purchases repeat another purchase's order id (a second "thank you" page view).
    repeat = purchase[rng.random(len(purchase)) < 0.02]
    order_index = np.arange(n)
    order_index[repeat] = rng.choice(purchase, size=len(repeat))
    order_ids = order_ids.take(pa.array(order_index))
    order_ids = pc.if_else(pa.array(kind == 2), order_ids, pa.scalar(None, pa.string()))
    has_data = rng.random(n) < 0.2
    data_index = rng.integers(0, len(EVENT_DATA), n)
    conversions = pa.table(
        {
            "event_id": uuid4_strings(rng, n),
            "tracking_id": conv_tracking,
            "campaign_link_id": link_ids.take(pa.array(conv_link)),
            "event_type": pick(["newsletter_signup", "course_enrollment", "purchase"], kind),
            "revenue_amount": money(cents, kind > 0),
            "currency": pick(["USD"], np.zeros(n, dtype=np.int64)),
            "order_id": order_ids,
            "event_data": pc.if_else(
                pa.array(has_data), pick(EVENT_DATA, data_index), pa.scalar(None, pa.string())
            ),
            "converted_at": timestamps(converted),
        }
    )
    clicks = with_copies(rng, clicks, 0.005)
    conversions = with_copies(rng, conversions, 0.01)

    inputs = work / "input"
    shutil.rmtree(inputs, ignore_errors=True)
    (inputs / "history").mkdir(parents=True)
    (inputs / "new_day").mkdir(parents=True)
    files: dict[str, list[str]] = {"history": [], "new_day": []}
    history_end = pa.scalar(history_end_us, pa.int64()).cast(pa.timestamp("us"))
    for stream, table, time_col, parts in (
        ("clicks", clicks, "clicked_at", 10),
        ("conversions", conversions, "converted_at", 2),
    ):
        table = table.sort_by(time_col)  # exports come in time order
        old = pc.less(table[time_col], history_end)
        hist, new = table.filter(old), table.filter(pc.invert(old))
        step = -(-hist.num_rows // parts)
        for i in range(parts):
            path = inputs / "history" / f"{stream}-{i:02d}.parquet"
            pq.write_table(hist.slice(i * step, step), path)
            files["history"].append(str(path))
        path = inputs / "new_day" / f"{stream}.parquet"
        pq.write_table(new, path)
        files["new_day"].append(str(path))

    now = dt.datetime(2026, 7, 1)
    links = pa.table(
        {
            "campaign_link_id": link_ids,
            "short_code": pa.array([f"bench-{i:03d}" for i in range(n_links)]),
            "destination_url": pa.array(
                [f"https://example.com/course-{i % 7}" for i in range(n_links)]
            ),
            "campaign_name": pa.array([f"campaign {i % 10}" for i in range(n_links)]),
            "youtube_video_id": pa.array([f"vid{i:08d}" for i in range(n_links)]),
            "placement": pick(
                ["description", "pinned_comment", "end_screen"], np.arange(n_links) % 3
            ),
            "created_at": pa.array([now] * n_links, pa.timestamp("us")),
            "disabled_at": pa.nulls(n_links, pa.timestamp("us")),
            "recorded_at": pa.array([now] * n_links, pa.timestamp("us")),
        }
    )
    pq.write_table(links, inputs / "campaign_links.parquet")
    return {
        "files": files,
        "links": str(inputs / "campaign_links.parquet"),
        "history_clicks": sum(pq.read_metadata(f).num_rows for f in files["history"][:10]),
        "history_conversions": sum(pq.read_metadata(f).num_rows for f in files["history"][10:]),
        "new_day_clicks": pq.read_metadata(files["new_day"][0]).num_rows,
        "new_day_conversions": pq.read_metadata(files["new_day"][1]).num_rows,
        "last_history_day": (FIRST_DAY + dt.timedelta(days=days - 1)).isoformat(),
        "new_day": (FIRST_DAY + dt.timedelta(days=days)).isoformat(),
    }


# ---------------------------------------------------------------- phases (child processes)


def settings_for(data_dir: Path):
    os.environ["CONVTRACK_DATA_DIR"] = str(data_dir)
    from convtrack.core.settings import Settings

    return Settings(data_dir=data_dir)


def phase_import(data_dir: Path, files: list[str], links: str | None) -> dict[str, object]:
    import pyarrow.parquet as pq

    from collector.ingest.importer import import_file
    from collector.storage import ParquetRawEventStore

    settings = settings_for(data_dir)
    if links:
        ParquetRawEventStore(settings.raw_dir).write_table("campaign_links", pq.read_table(links))
    out: dict[str, dict] = {}
    for stream in ("clicks", "conversions"):  # clicks first, as an operator would
        t0 = time.perf_counter()
        accepted = rejected = 0
        for f in (f for f in files if Path(f).name.startswith(stream)):
            result = import_file(Path(f), stream, settings=settings)
            accepted += result.accepted
            rejected += result.rejected
        out[stream] = {
            "seconds": time.perf_counter() - t0,
            "accepted": accepted,
            "rejected": rejected,
        }
    return out


def phase_pipeline(data_dir: Path, first: str, last: str) -> dict[str, object]:
    from dagster import DagsterInstance

    settings = settings_for(data_dir)
    t0 = time.perf_counter()
    from orchestration.definitions import defs
    from orchestration.partitions import range_tags
    from orchestration.run import _loggers, _resources

    imports_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    # What run_pipeline does, with the range given: run_pipeline itself always starts at
    # the first raw day, which is right for the full build and not for "one new day".
    instance = DagsterInstance.ephemeral()
    result = defs.resolve_job_def("pipeline").execute_in_process(
        instance=instance,
        tags=range_tags(dt.date.fromisoformat(first), dt.date.fromisoformat(last)),
        resources=_resources(settings),
        run_config=_loggers("WARNING"),
        raise_on_error=False,
    )
    seconds = time.perf_counter() - t0
    steps = {}
    for entry in instance.all_logs(result.run_id):
        event = entry.dagster_event
        if event and event.event_type_value in ("STEP_START", "STEP_SUCCESS", "STEP_FAILURE"):
            steps.setdefault(event.step_key, {})[event.event_type_value] = entry.timestamp
    step_seconds = {
        k: round(v["STEP_SUCCESS"] - v["STEP_START"], 2)
        for k, v in steps.items()
        if "STEP_SUCCESS" in v and "STEP_START" in v
    }
    return {
        "seconds": seconds,
        "imports_seconds": imports_s,
        "success": result.success,
        "run_id": result.run_id,
        "steps": step_seconds,
    }


def phase_baseline(data_dir: Path, out_db: Path, as_of: str) -> dict[str, object]:
    import duckdb

    settings = settings_for(data_dir)
    script = (BENCH / "baseline_marts.sql").read_text()
    out_db.unlink(missing_ok=True)
    t0 = time.perf_counter()
    with duckdb.connect(str(out_db)) as con:
        con.execute("set variable raw_dir = ?", [str(settings.raw_dir)])
        con.execute("set variable as_of = ?", [as_of])
        con.execute("set variable reporting_timezone = ?", [settings.reporting_timezone])
        con.execute(script)
        con.execute("checkpoint")
    return {"seconds": time.perf_counter() - t0}


def mart_tables() -> list[str]:
    """Every table the snapshot publishes: the dbt models of the `marts` schema, from the
    manifest, as publishing lists them."""
    from orchestration.assets.publish import MART_ASSET_KEYS

    return sorted(key.path[-1] for key in MART_ASSET_KEYS)


def compare_marts(published: Path, baseline: Path) -> dict[str, object]:
    """Rows in one and not the other, per mart (bags, so duplicates count); a mart the
    baseline lacks differs by all its rows."""
    import duckdb

    diffs = {}
    with duckdb.connect() as con:
        con.execute(f"attach '{published}' as p (read_only)")
        con.execute(f"attach '{baseline}' as b (read_only)")
        in_baseline = {
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() where database_name = 'b' "
                "and schema_name = 'marts'"
            ).fetchall()
        }
        for table in mart_tables():
            if table not in in_baseline:
                (rows,) = con.execute(f'select count(*) from p.main."{table}"').fetchone()
                diffs[table] = {"rows": rows, "only_pipeline": rows, "only_baseline": 0}
                continue
            cols = [
                r[0]
                for r in con.execute(
                    "select column_name from duckdb_columns() where database_name = 'p' "
                    "and table_name = ? order by column_index",
                    [table],
                ).fetchall()
                if r[0] not in ("run_id", "built_at")
            ]
            sel = ", ".join(f'"{c}"' for c in cols)
            p = f'select {sel} from p.main."{table}"'
            b = f'select {sel} from b.marts."{table}"'
            (only_p,) = con.execute(f"select count(*) from ({p} except all {b})").fetchone()
            (only_b,) = con.execute(f"select count(*) from ({b} except all {p})").fetchone()
            (rows,) = con.execute(f"select count(*) from ({p})").fetchone()
            diffs[table] = {"rows": rows, "only_pipeline": only_p, "only_baseline": only_b}
    return diffs


PHASES = {
    "import": lambda a: phase_import(Path(a["data_dir"]), a["files"], a.get("links")),
    "pipeline": lambda a: phase_pipeline(Path(a["data_dir"]), a["first"], a["last"]),
    "baseline": lambda a: phase_baseline(Path(a["data_dir"]), Path(a["out_db"]), a["as_of"]),
    "generate": lambda a: (
        sys.path.insert(0, str(BENCH_LIB))
        or generate(Path(a["work"]), a["clicks"], a["conversions"], a["days"], a["links"])
    ),
}


# ---------------------------------------------------------------- measuring a phase


def _tree_rss(root: int) -> int:
    """Resident bytes of `root` and every descendant (shared pages counted per process)."""
    page = os.sysconf("SC_PAGE_SIZE")
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry.name}/statm") as f:
                resident = int(f.read().split()[1])
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
        rss[int(entry.name)] = resident * page
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def run_phase(name: str, args: dict) -> dict:
    """Run one phase in a child process; its result, wall time and peak memory."""
    load = os.getloadavg()
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(
        [sys.executable, __file__, "--phase", name, json.dumps(args)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"phase {name} failed with exit code {proc.returncode}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    result["wall_seconds"] = time.perf_counter() - t0
    result["peak_tree_rss"] = peak
    # ru_maxrss of RUSAGE_CHILDREN: the largest single descendant waited for (KB).
    result["max_child_rss"] = max(after.ru_maxrss, before.ru_maxrss) * 1024
    result["cpu_seconds"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    result["load_before"] = load
    result["load_after"] = os.getloadavg()
    return result


# ---------------------------------------------------------------- report


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    with open("/proc/meminfo") as f:
        mem_kb = next(int(ln.split()[1]) for ln in f if ln.startswith("MemTotal"))
    return (
        f"nproc={os.cpu_count()}, {cpu}, {mem_kb / 2**20:.1f} GiB RAM, "
        f"Python {platform.python_version()}, {platform.platform()}"
    )


def dbt_timings(artifacts: Path, run_id: str) -> list[tuple[str, str, float]]:
    """(unique_id, status, seconds) of the dbt invocation of a run, slowest first."""
    targets = sorted(
        artifacts.glob(f"*{run_id[:7]}*/run_results.json"),
        key=lambda p: p.stat().st_mtime,
    )
    if not targets:
        return []
    results = json.loads(targets[-1].read_text())["results"]
    rows = [(r["unique_id"], r["status"], float(r["execution_time"])) for r in results]
    return sorted(rows, key=lambda r: -r[2])


def dbt_phases(artifacts: Path, run_id: str) -> dict[str, float]:
    """From the run's dbt.log: start-up and parse (until the first node can run), nodes,
    and whether dbt had to re-parse the whole project."""
    logs = sorted(
        artifacts.glob(f"*{run_id[:7]}*/dbt.log"),
        key=lambda p: p.stat().st_mtime,
    )
    if not logs:
        return {}
    stamps: dict[str, float] = {}
    full_parse = False
    last = 0.0
    for line in logs[-1].read_text().splitlines():
        try:
            info = json.loads(line)["info"]
        except (ValueError, KeyError):
            continue
        ts = dt.datetime.fromisoformat(info["ts"].replace("Z", "+00:00")).timestamp()
        stamps.setdefault("start", ts)
        if info["name"] == "UnableToPartialParse":
            full_parse = True
        if info["name"] == "ConcurrencyLine":
            stamps["nodes"] = ts
        last = ts
    return {
        "startup_and_parse_s": round(stamps.get("nodes", last) - stamps["start"], 2),
        "nodes_s": round(last - stamps.get("nodes", last), 2),
        "full_reparse": full_parse,
    }


def gb(n: float) -> str:
    return f"{n / 2**30:.2f} GB"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=10_000_000)
    parser.add_argument("--conversions", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--links", type=int, default=50)
    parser.add_argument("--work", type=Path, default=Path("/tmp/convtrack-pipeline-bench"))
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("phase_args", nargs="?", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.phase:
        result = PHASES[opts.phase](json.loads(opts.phase_args))
        print(json.dumps(result, default=str))
        return

    work = opts.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    data_dir = work / "data"
    print(f"machine: {machine()}")
    print(f"work dir: {work}; load average at start: {os.getloadavg()}")

    gen = run_phase(
        "generate",
        {
            "work": str(work),
            "clicks": opts.clicks,
            "conversions": opts.conversions,
            "days": opts.days,
            "links": opts.links,
        },
    )
    print(
        f"generated {gen['history_clicks']:,} clicks and {gen['history_conversions']:,} "
        f"conversions over {opts.days} days (+ {gen['new_day_clicks']:,} / "
        f"{gen['new_day_conversions']:,} on day {opts.days + 1}) in {gen['wall_seconds']:.1f} s"
    )

    imp = run_phase(
        "import",
        {"data_dir": str(data_dir), "files": gen["files"]["history"], "links": gen["links"]},
    )
    for stream in ("clicks", "conversions"):
        s = imp[stream]
        print(
            f"import {stream}: {s['accepted']:,} accepted, {s['rejected']:,} rejected in "
            f"{s['seconds']:.1f} s = {(s['accepted'] + s['rejected']) / s['seconds']:,.0f} rows/s"
        )
    print(f"  import peak RSS {gb(imp['peak_tree_rss'])}, load {imp['load_before']}")

    # As run_pipeline: from the first raw day of any stream (the links were recorded
    # before the first click) to the last day of the history.
    from orchestration.run import first_raw_day

    first = first_raw_day(settings_for(data_dir)).isoformat()
    last = gen["last_history_day"]
    full = run_phase("pipeline", {"data_dir": str(data_dir), "first": first, "last": last})
    if not full["success"]:
        raise SystemExit("the full pipeline run failed")
    base = run_phase(
        "baseline",
        {"data_dir": str(data_dir), "out_db": str(work / "baseline.duckdb"), "as_of": last},
    )
    diffs = compare_marts(data_dir / "warehouse" / "published.duckdb", work / "baseline.duckdb")
    from orchestration.dbt_env import dbt_artifacts_dir

    artifacts = dbt_artifacts_dir(settings_for(data_dir))
    full_dbt = dbt_timings(artifacts, full["run_id"])
    full["dbt_log"] = dbt_phases(artifacts, full["run_id"])

    imp_new = run_phase("import", {"data_dir": str(data_dir), "files": gen["files"]["new_day"]})
    new_day = gen["new_day"]
    inc = run_phase("pipeline", {"data_dir": str(data_dir), "first": new_day, "last": new_day})
    if not inc["success"]:
        raise SystemExit("the new-day pipeline run failed")
    inc_dbt = dbt_timings(artifacts, inc["run_id"])
    inc["dbt_log"] = dbt_phases(artifacts, inc["run_id"])

    ratio = full["seconds"] / base["seconds"]
    share = inc["seconds"] / full["seconds"]
    rows = [
        (
            "full pipeline (run_pipeline job)",
            f"{full['seconds']:.1f} s",
            f"≤ {TARGET_PIPELINE_S:.0f} s",
            f"{full['seconds'] / TARGET_PIPELINE_S:.2f}x target",
            verdict(full["seconds"] <= TARGET_PIPELINE_S),
        ),
        (
            "full pipeline peak RSS (process tree)",
            gb(full["peak_tree_rss"]),
            f"≤ {TARGET_PEAK_GB:.0f} GB",
            f"{full['peak_tree_rss'] / 2**30 / TARGET_PEAK_GB:.2f}x target",
            verdict(full["peak_tree_rss"] <= TARGET_PEAK_GB * 2**30),
        ),
        (
            "pipeline / hand-written DuckDB script",
            f"{full['seconds']:.1f} s / {base['seconds']:.1f} s",
            f"≤ {TARGET_RATIO_TO_BASELINE:.0f}x",
            f"{ratio:.2f}x",
            verdict(ratio <= TARGET_RATIO_TO_BASELINE),
        ),
        (
            "one new day / full build",
            f"{inc['seconds']:.1f} s / {full['seconds']:.1f} s",
            f"≤ {TARGET_NEW_DAY_SHARE:.0%}",
            f"{share:.1%}",
            verdict(share <= TARGET_NEW_DAY_SHARE),
        ),
    ]
    print()
    for row in rows:
        print(f"{row[0]:<40} {row[1]:>22}  target {row[2]:<8} {row[3]:>14}  {row[4]}")
    print(
        f"\nbaseline peak RSS {gb(base['peak_tree_rss'])}; pipeline imports (dagster, dbt "
        f"manifest) {full['imports_seconds']:.1f} s, not counted; "
        f"full run CPU {full['cpu_seconds']:.0f} s, baseline CPU {base['cpu_seconds']:.0f} s"
    )
    print(
        f"load average: full run {full['load_before']} -> {full['load_after']}, "
        f"baseline {base['load_before']}, new day {inc['load_before']}"
    )
    print(
        f"new-day import: {imp_new['clicks']['accepted']:,} clicks in "
        f"{imp_new['clicks']['seconds']:.1f} s, {imp_new['conversions']['accepted']:,} "
        f"conversions in {imp_new['conversions']['seconds']:.1f} s"
    )
    bad = {t: d for t, d in diffs.items() if d["only_pipeline"] or d["only_baseline"]}
    print(
        "marts, pipeline vs baseline: "
        + ("identical" if not bad else f"DIFFER in {bad}")
        + " ("
        + ", ".join(f"{t} {d['rows']:,}" for t, d in diffs.items())
        + ")"
    )
    for label, run, timings in (("full", full, full_dbt), ("new day", inc, inc_dbt)):
        print(f"\n{label} run, Dagster steps (s): {run['steps']}")
        print(f"  dbt.log: {run['dbt_log']}")
        models = sum(t for u, _, t in timings if u.startswith("model."))
        tests = sum(t for u, _, t in timings if u.startswith("test."))
        print(f"  dbt node time: models {models:.1f} s, tests {tests:.1f} s (sum over 2 threads)")
        for uid, status, secs in timings[:12]:
            print(f"  {secs:7.2f} s  {status:<7} {uid}")

    figures = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "generate": gen,
        "import": imp,
        "full": full,
        "baseline": base,
        "new_day_import": imp_new,
        "new_day": inc,
        "ratio": ratio,
        "new_day_share": share,
        "diffs": diffs,
        "full_dbt": full_dbt,
        "new_day_dbt": inc_dbt,
    }
    if opts.json:
        opts.json.write_text(json.dumps(figures, indent=1, default=str))
    if not opts.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
