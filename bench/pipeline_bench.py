"""Pipeline benchmark: every figure of issue 10's table, each beside a baseline measured
in the same run and its target.

Not a test. Generates the history (numpy + pyarrow, fixed seed; default 10M clicks + 1M
conversions over 90 days) as Parquet import files outside any data directory, then:

1. imports them with `import_file` into a fresh data dir (Parquet rows/s), and a sample
   of the clicks written as JSON lines into a scratch data dir (JSON lines rows/s); the
   baseline of each is DuckDB copying the same file to Parquet;
2. runs the whole Dagster job over the history and, as the baseline, the hand-written
   DuckDB script `bench/baseline_marts.sql` on the same raw files; compares every mart
   of the published snapshot with the script's, row for row;
3. imports a 91st day and runs the job for that day alone;
4. looks up 200 attributed tracking ids through the read API of a real `convtrack serve`
   on the published snapshot; the baseline is the same query run directly in DuckDB;
5. runs `convtrack pipeline run --as-of DAY` as a user does (a subprocess, a persistent
   Dagster instance in a fresh data dir) on a tiny history of ~100 events over 90 days;
   the baseline is the script on the same tiny data;
6. with `--scale N1,N2,...`: the full pipeline at each number of clicks (conversions at
   10 %), time and memory per million clicks, and a PNG of both (bench/pipeline_scale.png);
7. with `--engines duckdb,spark`: steps 2, 3 and 5 on Spark too (CONVTRACK_ENGINE=spark,
   a data dir of its own with a copy of the same raw files), beside DuckDB's; Spark's
   published marts against the script's and DuckDB's; a bare Spark session timed alone.

Every job run is split into phases: fixed start-up (Python imports and Dagster run
creation, until the first step starts, plus dbt's start-up and parse, until its first
node runs), raw load, dbt models / tests / unit tests, publish. Steps are grouped by the
asset groups of what they materialise (`raw`, `publish`, and dbt's groups), dbt nodes by
the kind in their `unique_id`, so renamed steps or a different partitioning still add up.

Each measured command runs in its own process, so its peak memory is its own: the bench
samples the RSS of the process and all its descendants (dbt is a subprocess) from /proc
every 50 ms and reports the peak of the sum.

    .venv/bin/python bench/pipeline_bench.py [--clicks 10000000] [--conversions 1000000]
        [--days 90] [--links 50] [--work /tmp/convtrack-pipeline-bench] [--keep]
        [--json FILE] [--scale 1000000,10000000,30000000] [--scale-only]
        [--engines duckdb,spark] [--report FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

# numpy and matplotlib are no project dependencies: `make bench-pipeline` installs them
# here, beside the venv, and only the generate and plot phases put them on sys.path.
BENCH_LIB = ROOT / ".venv" / "bench-lib"
SCALE_PNG = BENCH / "pipeline_scale.png"

SEED = 20261125
FIRST_DAY = dt.date(2026, 8, 1)
DAY_US = 86_400_000_000

# Issue 10's targets.
TARGET_PIPELINE_S = 60.0
TARGET_PEAK_GB = 4.0
TARGET_RATIO_TO_BASELINE = 2.0
TARGET_NEW_DAY_SHARE = 0.15
TARGET_TINY_S = 15.0
TARGET_PARQUET_ROWS_S = 1_000_000
TARGET_JSON_ROWS_S = 300_000
TARGET_LOOKUP_P99_MS = 20.0
# "No worse than linear": time and memory per million clicks may not grow from one size
# to the next by more than this (run-to-run noise on a shared 2-core machine).
SCALE_TOLERANCE = 1.10

# The tiny history: about 100 events over the same 90 days.
TINY_CLICKS = 80
TINY_CONVERSIONS = 20
# Clicks written as JSON lines for the JSON import figure (at most the history's).
JSON_SAMPLE_ROWS = 1_000_000
LOOKUPS = 200

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

# A history file holds at most this many rows (and their exact copies): only the numbers
# of the whole history stay in memory, the text of one file at a time.
FILE_ROWS = 3_000_000
AGENTS = HUMAN_AGENTS + BOT_AGENTS
EVENT_TYPES = ["newsletter_signup", "course_enrollment", "purchase"]


def uuid4_bytes(rng, n: int):
    """n random UUIDv4s as an (n, 16) uint8 array (version and variant bits set)."""
    import numpy as np

    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    return raw


def uuid_texts(raw):
    """The (n, 16) uint8 UUIDs `raw` as an Arrow string array of their 36-character texts,
    built from bytes (no Python loop)."""
    import numpy as np
    import pyarrow as pa

    n = len(raw)
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    pairs = np.stack([digits.repeat(16), np.tile(digits, 16)], axis=1)  # byte -> 2 hex
    hexes = pairs[raw].reshape(n, 32)
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    for src, dst, width in ((0, 0, 8), (8, 9, 4), (12, 14, 4), (16, 19, 4), (20, 24, 12)):
        text[:, dst : dst + width] = hexes[:, src : src + width]
    offsets = np.arange(0, 36 * (n + 1), 36, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text.reshape(-1)))


def uuid4_strings(rng, n: int):
    """n random UUIDv4 texts as an Arrow string array."""
    return uuid_texts(uuid4_bytes(rng, n))


def pick(pool: list, index):
    """pool[index] as large (64-bit offset) Arrow strings: a plain string array holds at
    most 2 GiB of text, which a whole stream of user agents can exceed (import_bench
    builds its streams at once; `generate` builds one file at a time, with `texts`)."""
    import pyarrow as pa

    return pa.array(pool, pa.large_string()).take(pa.array(index))


def texts(pool: list, index):
    """pool[index] as plain Arrow strings (None in `pool` gives nulls)."""
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


def copied(rng, n: int, share: float):
    """Which of n rows also come a second time, as an exact copy (retries and re-sent
    exports): a `share` of them."""
    import numpy as np

    flags = np.zeros(n, dtype=bool)
    flags[rng.choice(n, size=int(n * share), replace=False)] = True
    return flags


def generate(
    work: Path, n_clicks: int, n_conversions: int, days: int, n_links: int
) -> dict[str, object]:
    """History (`days` days) and one more day, as Parquet import files under `work`.

    The whole history is held as numbers only (times, indexes, flags, the 16 bytes of
    each UUID), in time order; the text of each file is made from its rows, written and
    dropped before the next, so memory grows with the numbers and not with the text."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rng = np.random.default_rng(SEED)
    start_us = (FIRST_DAY - dt.date(1970, 1, 1)).days * DAY_US
    history_end_us = start_us + days * DAY_US
    end_us = history_end_us + DAY_US  # the 91st day
    total_clicks = n_clicks * (days + 1) // days
    link_type = np.int16 if n_links < 2**15 else np.int32

    # Links: a few hits and a long tail (Zipf-like weights).
    link_ids = uuid4_strings(rng, n_links)
    weights = 1.0 / np.arange(1, n_links + 1) ** 0.9
    weights /= weights.sum()

    # Clicks, in time order (every other draw is independent of the time).
    clicked = rng.integers(start_us, end_us, size=total_clicks)
    clicked.sort()
    link_of_click = rng.choice(n_links, size=total_clicks, p=weights).astype(link_type)
    is_bot = rng.random(total_clicks) < 0.08
    agent = rng.integers(0, len(HUMAN_AGENTS), total_clicks, dtype=np.int8)
    agent[is_bot] = len(HUMAN_AGENTS) + rng.integers(
        0, len(BOT_AGENTS), int(is_bot.sum()), dtype=np.int8
    )
    tracking = uuid4_bytes(rng, total_clicks)
    # Imported history may repeat a tracking id: 0.2 % of clicks reuse another click's.
    reuse = np.flatnonzero(rng.random(total_clicks) < 0.002)
    tracking[reuse] = tracking[rng.integers(0, total_clicks, size=len(reuse))]
    del reuse
    ip_pool = [f"{a}.{b}.{c}.{d}" for a, b, c, d in rng.integers(1, 255, size=(50_000, 4))]
    click_copied = copied(rng, total_clicks, 0.005)

    # Conversions: most follow a human click, some a bot-flagged one, a few no click at all.
    draw = int(n_conversions * (days + 1) / days * 1.25)
    human = np.flatnonzero(~is_bot)
    source_click = np.where(
        rng.random(draw) < 0.99,
        human[rng.integers(0, len(human), draw)],
        rng.integers(0, total_clicks, draw),
    )
    del human, is_bot
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
    conv_link = np.where(mismatch, (conv_link + 1) % n_links, conv_link).astype(link_type)
    conv_tracking = tracking[source_click]
    conv_tracking[no_click] = uuid4_bytes(rng, int(no_click.sum()))
    kind = rng.choice(3, size=n, p=[0.5, 0.3, 0.2]).astype(np.int8)  # EVENT_TYPES
    cents = np.where(
        kind == 1, rng.integers(4_900, 29_900, n), rng.integers(999, 99_999, n)
    ).astype(np.int64)
    purchase = np.flatnonzero(kind == 2)
    order = uuid4_bytes(rng, n)  # used where kind is purchase
    # 2 % of purchases repeat another purchase's order id (a second "thank you" page view).
    repeat = purchase[rng.random(len(purchase)) < 0.02]
    order[repeat] = order[rng.choice(purchase, size=len(repeat))]
    has_data = rng.random(n) < 0.2
    data = np.where(has_data, rng.integers(0, len(EVENT_DATA), n), len(EVENT_DATA))  # None
    conv_copied = copied(rng, n, 0.01)
    by_time = np.argsort(converted, kind="stable")
    converted, conv_link, kind, cents = (a[by_time] for a in (converted, conv_link, kind, cents))
    conv_tracking, order, data = (a[by_time] for a in (conv_tracking, order, data))
    conv_copied = conv_copied[by_time]

    def click_rows(a: int, b: int, chunk_rng):
        """Clicks a..b of the time order, each copy right after its original."""
        own = np.repeat(np.arange(b - a), 1 + click_copied[a:b])
        rows = a + own
        return pa.table(
            {
                "event_id": uuid_texts(uuid4_bytes(chunk_rng, b - a)[own]),
                "tracking_id": uuid_texts(tracking[rows]),
                "campaign_link_id": link_ids.take(pa.array(link_of_click[rows])),
                "clicked_at": timestamps(clicked[rows]),
                "ip_address": texts(ip_pool, chunk_rng.integers(0, len(ip_pool), b - a)[own]),
                "user_agent": texts(AGENTS, agent[rows]),
                "referrer": texts(REFERRERS, chunk_rng.integers(0, len(REFERRERS), b - a)[own]),
            }
        )

    def conversion_rows(a: int, b: int, chunk_rng):
        """Conversions a..b of the time order, each copy right after its original."""
        own = np.repeat(np.arange(b - a), 1 + conv_copied[a:b])
        rows = a + own
        purchases = pa.array(kind[rows] == 2)
        return pa.table(
            {
                "event_id": uuid_texts(uuid4_bytes(chunk_rng, b - a)[own]),
                "tracking_id": uuid_texts(conv_tracking[rows]),
                "campaign_link_id": link_ids.take(pa.array(conv_link[rows])),
                "event_type": texts(EVENT_TYPES, kind[rows]),
                "revenue_amount": money(cents[rows], kind[rows] > 0),
                "currency": texts(["USD"], np.zeros(len(rows), dtype=np.int8)),
                "order_id": pc.if_else(
                    purchases, uuid_texts(order[rows]), pa.scalar(None, pa.string())
                ),
                "event_data": texts([*EVENT_DATA, None], data[rows]),
                "converted_at": timestamps(converted[rows]),
            }
        )

    inputs = work / "input"
    shutil.rmtree(inputs, ignore_errors=True)
    (inputs / "history").mkdir(parents=True)
    (inputs / "new_day").mkdir(parents=True)
    files: dict[str, list[str]] = {"history": [], "new_day": []}
    rows_in: dict[str, int] = {}

    def write(path: Path, make_rows, a: int, b: int, key: tuple[int, ...]) -> int:
        """Rows a..b (and their copies) to `path`, FILE_ROWS of them in memory at a time;
        the text of each piece from its own generator, seeded from SEED and `key`."""
        written = 0
        schema = make_rows(a, a, np.random.default_rng(0)).schema
        with pq.ParquetWriter(path, schema) as writer:
            for piece, lo in enumerate(range(a, b, FILE_ROWS) or [a]):
                chunk_rng = np.random.default_rng((SEED, *key, piece))
                table = make_rows(lo, min(lo + FILE_ROWS, b), chunk_rng)
                writer.write_table(table)
                written += table.num_rows
                del table
        return written

    for number, (stream, times, make_rows, min_parts) in enumerate(
        (("clicks", clicked, click_rows, 10), ("conversions", converted, conversion_rows, 2))
    ):
        # Exports come in time order: the history's rows split into files in that order.
        split = int(np.searchsorted(times, history_end_us))
        parts = max(min_parts, -(-split // FILE_ROWS))
        step = max(1, -(-split // parts))
        width = max(2, len(str(parts - 1)))
        rows_in[f"history_{stream}"] = 0
        for i in range(parts):
            path = inputs / "history" / f"{stream}-{i:0{width}d}.parquet"
            a, b = min(i * step, split), min((i + 1) * step, split)
            rows_in[f"history_{stream}"] += write(path, make_rows, a, b, (number, 0, i))
            files["history"].append(str(path))
        path = inputs / "new_day" / f"{stream}.parquet"
        rows_in[f"new_day_{stream}"] = write(path, make_rows, split, len(times), (number, 1, 0))
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
        **rows_in,  # history_clicks, history_conversions, new_day_clicks, new_day_conversions
        "last_history_day": (FIRST_DAY + dt.timedelta(days=days - 1)).isoformat(),
        "new_day": (FIRST_DAY + dt.timedelta(days=days)).isoformat(),
    }


# ---------------------------------------------------------------- phases (child processes)


def settings_for(data_dir: Path):
    os.environ["CONVTRACK_DATA_DIR"] = str(data_dir)
    from convtrack.core.settings import Settings

    return Settings(data_dir=data_dir)


def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def phase_json_sample(files: list[str], out: str, rows: int) -> dict[str, object]:
    """The first `rows` clicks of `files` as JSON lines, times as the API takes them."""
    import duckdb

    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.execute(
            "copy (select event_id, tracking_id, campaign_link_id, "
            "strftime(clicked_at, '%Y-%m-%dT%H:%M:%S.%fZ') as clicked_at, ip_address, "
            f"user_agent, referrer from read_parquet({files!r}) limit {int(rows)}) "
            f"to {sql_text(out)} (format json)"
        )
        (n,) = con.execute(f"select count(*) from read_json({sql_text(out)})").fetchone()
    return {"path": out, "rows": n, "bytes": Path(out).stat().st_size}


def phase_import(data_dir: Path, files: list[str], links: str | None) -> dict[str, object]:
    import pyarrow.parquet as pq

    from collector.ingest.importer import import_file
    from collector.storage import ParquetRawEventStore

    settings = settings_for(data_dir)
    if links:
        ParquetRawEventStore(settings.raw_dir).write_table("campaign_links", pq.read_table(links))
    out: dict[str, dict] = {}
    for stream in ("clicks", "conversions"):  # clicks first, as an operator would
        mine = [f for f in files if Path(f).name.startswith(stream)]
        if not mine:
            continue
        t0 = time.perf_counter()
        accepted = rejected = 0
        for f in mine:
            result = import_file(Path(f), stream, settings=settings)
            accepted += result.accepted
            rejected += result.rejected
        out[stream] = {
            "seconds": time.perf_counter() - t0,
            "accepted": accepted,
            "rejected": rejected,
        }
    return out


def phase_copy_baseline(files: list[str], out: str) -> dict[str, object]:
    """The import's baseline: DuckDB reading the same files, stream by stream, and writing
    them as Parquet."""
    import duckdb

    seconds = rows = 0
    for stream in ("clicks", "conversions"):
        mine = [f for f in files if Path(f).name.startswith(stream)]
        if not mine:
            continue
        reader = "read_json" if mine[0].endswith(".jsonl") else "read_parquet"
        t0 = time.perf_counter()
        with duckdb.connect() as con:
            con.execute(
                f"copy (select * from {reader}({mine!r})) to {sql_text(out)} (format parquet)"
            )
            (n,) = con.execute(f"select count(*) from read_parquet({sql_text(out)})").fetchone()
        seconds += time.perf_counter() - t0
        rows += n
        Path(out).unlink()
    return {"seconds": seconds, "rows": rows}


def step_timeline(instance, run_id: str) -> dict:
    """When the run started (its first event), and each of its steps: start and end
    (epoch seconds) and the asset groups it materialises, from the run's events and the
    code location's asset graph."""
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    # A step of an op-backed asset is keyed by its node name; graph-backed ones add
    # ".op" and mapped ones "[key]" (both stripped). Materialisations name the rest.
    groups_of_node: dict[str, set[str]] = {}
    for assets_def in graph.assets_defs:
        if assets_def.is_executable:
            groups_of_node.setdefault(assets_def.node_def.name, set()).update(
                assets_def.group_names_by_key.values()
            )
    steps: dict[str, dict] = {}
    run_start = None
    before_first_step = 0  # events Dagster writes before any step runs
    stepped = False
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        run_start = run_start or entry.timestamp
        stepped = stepped or event.event_type_value == "STEP_START"
        before_first_step += not stepped
        if event.step_key is None:
            continue
        node = event.step_key.split(".")[0].split("[")[0]
        step = steps.setdefault(
            event.step_key, {"step": event.step_key, "groups": set(groups_of_node.get(node, ()))}
        )
        kind = event.event_type_value
        if kind == "STEP_START":
            step["start"] = entry.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            step["end"] = entry.timestamp
            step["status"] = kind
        elif kind == "ASSET_MATERIALIZATION" and graph.has(event.asset_key):
            step["groups"].add(graph.get(event.asset_key).group_name)
    timeline = [
        {**s, "groups": sorted(s["groups"])}
        for s in sorted(steps.values(), key=lambda s: s.get("start", 0))
        if "start" in s and "end" in s
    ]
    return {
        "run_start": run_start,
        "events_before_first_step": before_first_step,
        "steps": timeline,
    }


def phase_pipeline(data_dir: Path, first: str, last: str) -> dict[str, object]:
    started = time.time()  # the process began a few ms earlier: the bench measures it
    t0 = time.perf_counter()
    from dagster import DagsterInstance

    settings = settings_for(data_dir)
    from orchestration.build_range import build_run_config
    from orchestration.definitions import defs
    from orchestration.run import _resources

    imports_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    # What run_pipeline does, with the range given: run_pipeline itself always starts at
    # the first raw day, which is right for the full build and not for "one new day".
    instance = DagsterInstance.ephemeral()
    result = defs.resolve_job_def("pipeline").execute_in_process(
        instance=instance,
        resources=_resources(settings),
        run_config=build_run_config(
            dt.date.fromisoformat(first), dt.date.fromisoformat(last), log_level="WARNING"
        ),
        raise_on_error=False,
    )
    return {
        "job_seconds": time.perf_counter() - t0,
        "imports_seconds": imports_s,
        "phase_started": started,
        "success": result.success,
        "run_id": result.run_id,
        **step_timeline(instance, result.run_id),
    }


def phase_run_steps(data_dir: Path, run_id: str) -> dict[str, object]:
    """The steps of a run that `convtrack pipeline run` made in the data dir's instance."""
    from dagster import DagsterInstance

    from orchestration.run import prepare_dagster_home

    prepare_dagster_home(settings_for(data_dir))
    with DagsterInstance.get() as instance:
        return step_timeline(instance, run_id)


def phase_baseline(data_dir: Path, out_db: Path, as_of: str) -> dict[str, object]:
    import duckdb
    import yaml

    settings = settings_for(data_dir)
    script = (BENCH / "baseline_marts.sql").read_text()
    # The rules from where the pipeline takes them: the window from the settings (passed
    # to dbt as a var), the clock skew from the dbt project's vars.
    dbt_vars = yaml.safe_load((ROOT / "dbt_project" / "dbt_project.yml").read_text())["vars"]
    out_db.unlink(missing_ok=True)
    t0 = time.perf_counter()
    with duckdb.connect(str(out_db)) as con:
        con.execute("set variable raw_dir = ?", [str(settings.raw_dir)])
        con.execute("set variable as_of = ?", [as_of])
        con.execute("set variable reporting_timezone = ?", [settings.reporting_timezone])
        con.execute("set variable window_days = ?", [settings.attribution_window_days])
        con.execute("set variable clock_skew_minutes = ?", [int(dbt_vars["clock_skew_minutes"])])
        con.execute(script)
        con.execute("checkpoint")
    return {"seconds": time.perf_counter() - t0}


def phase_spark_session(scratch: str, master: str) -> dict[str, object]:
    """The Spark engine's fixed costs alone, in a process of its own: a session as
    dbt-spark's `session` method makes it (Hive catalogue, an embedded Derby metastore
    made in `scratch`), then its first catalogue query, a first and a warm job, and the
    floor of what every model and data test costs Spark: a one-row table created (a
    Spark job, files and a metastore entry) and a query of it (a job)."""
    t0 = time.perf_counter()
    from pyspark.sql import SparkSession

    imports = time.perf_counter() - t0
    root = Path(scratch)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    builder = SparkSession.builder.master(master).appName("convtrack-bench-probe")
    # What of profiles.yml's Spark settings bears on start-up and on a small job.
    for key, value in {
        "spark.sql.warehouse.dir": str(root / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={root / 'metastore_db'};create=true"
        ),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={root}",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "8",
    }.items():
        builder = builder.config(key, value)

    def timed(action) -> float:
        t = time.perf_counter()
        action()
        return time.perf_counter() - t

    t1 = time.perf_counter()
    spark = builder.enableHiveSupport().getOrCreate()  # the JVM starts here
    session_s = time.perf_counter() - t1
    spark.sparkContext.setLogLevel("ERROR")
    try:
        out = {
            "imports_seconds": imports,
            "session_seconds": session_s,
            "first_catalog_query_seconds": timed(lambda: spark.sql("show databases").collect()),
            "first_job_seconds": timed(lambda: spark.range(1000).selectExpr("sum(id)").collect()),
            "warm_job_seconds": timed(lambda: spark.range(1000).selectExpr("sum(id)").collect()),
        }
        creates = [
            timed(lambda i=i: spark.sql(f"create table t{i} using parquet as select 1 as x"))
            for i in range(5)
        ]
        queries = [
            timed(lambda i=i: spark.sql(f"select count(*) from t{i} where x is null").collect())
            for i in range(5)
        ]
        out.update(
            create_table_seconds=statistics.median(creates),
            query_table_seconds=statistics.median(queries),
            spark_version=spark.version,
            java_version=spark.sparkContext._jvm.System.getProperty("java.version"),
        )
    finally:
        stop_s = timed(spark.stop)
    shutil.rmtree(root, ignore_errors=True)
    return {**out, "stop_seconds": stop_s}


def phase_plot(points: list[dict], out: str) -> dict[str, object]:
    """Time and peak memory of the full pipeline against clicks, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clicks = [p["clicks"] / 1e6 for p in points]
    fig, time_ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    time_ax.plot(clicks, [p["seconds"] for p in points], "o-", color="tab:blue", label="time")
    time_ax.set_xlabel("clicks (millions; conversions 10 %)")
    time_ax.set_ylabel("full pipeline, s", color="tab:blue")
    time_ax.set_xlim(left=0)
    time_ax.set_ylim(bottom=0)
    mem_ax = time_ax.twinx()
    mem_ax.plot(clicks, [p["peak_gb"] for p in points], "s--", color="tab:red", label="peak memory")
    mem_ax.set_ylabel("peak memory, process tree, GB", color="tab:red")
    mem_ax.set_ylim(bottom=0)
    # Linear from the smallest size, for the eye: a curve above it grows worse than linear.
    base = points[0]
    xs = [0, clicks[-1]]
    time_ax.plot(xs, [0, base["seconds"] / clicks[0] * clicks[-1]], ":", color="tab:blue")
    mem_ax.plot(xs, [0, base["peak_gb"] / clicks[0] * clicks[-1]], ":", color="tab:red")
    time_ax.set_title("convtrack full pipeline vs clicks (dotted: linear from the smallest)")
    fig.tight_layout()
    fig.savefig(out)
    return {"path": out}


def with_bench_lib(function):
    def run(*args):
        sys.path.insert(0, str(BENCH_LIB))
        return function(*args)

    return run


PHASES = {
    "generate": lambda a: with_bench_lib(generate)(
        Path(a["work"]), a["clicks"], a["conversions"], a["days"], a["links"]
    ),
    "json_sample": lambda a: phase_json_sample(a["files"], a["out"], a["rows"]),
    "import": lambda a: phase_import(Path(a["data_dir"]), a["files"], a.get("links")),
    "copy_baseline": lambda a: phase_copy_baseline(a["files"], a["out"]),
    "pipeline": lambda a: phase_pipeline(Path(a["data_dir"]), a["first"], a["last"]),
    "run_steps": lambda a: phase_run_steps(Path(a["data_dir"]), a["run_id"]),
    "baseline": lambda a: phase_baseline(Path(a["data_dir"]), Path(a["out_db"]), a["as_of"]),
    "plot": lambda a: with_bench_lib(phase_plot)(a["points"], a["out"]),
    "spark_session": lambda a: phase_spark_session(a["scratch"], a["master"]),
}


# ---------------------------------------------------------------- measuring a process


def _tree_rss(root: int, cpu: dict[int, float] | None = None) -> int:
    """Resident bytes of `root` and every descendant (shared pages counted per process);
    into `cpu`, each one's CPU seconds so far (user + system)."""
    page = os.sysconf("SC_PAGE_SIZE")
    ticks = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    used: dict[int, float] = {}
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
        fields = stat[stat.rindex(")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        rss[int(entry.name)] = resident * page
        used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        if cpu is not None and pid in used:
            cpu[pid] = max(cpu.get(pid, 0.0), used[pid])
        stack.extend(children.get(pid, []))
    return total


def measure(cmd: list[str], *, env: dict | None = None, log: Path | None = None) -> dict:
    """Run `cmd` to its end: its stdout, exit code, wall time, CPU time and the peak
    summed RSS of its process tree. stderr goes to `log` (or is inherited)."""
    load = os.getloadavg()
    started = time.time()
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(log, "ab") if log else open(os.devnull, "wb") as err:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=err if log else None,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        peak = 0
        tree_cpu: dict[int, float] = {}
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _tree_rss(proc.pid, tree_cpu))
                done.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        out, _ = proc.communicate()
        done.set()
        sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "stdout": out.decode(errors="replace"),
        "returncode": proc.returncode,
        "started": started,
        "wall_seconds": time.perf_counter() - t0,
        # Dagster's and dbt's timestamps are wall-clock time: phases are cut on that
        # clock. It differs from the monotonic wall when the clock jumps (a paused VM).
        "epoch_seconds": time.time() - started,
        "peak_tree_rss": peak,
        "cpu_seconds": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        # The same from /proc, sampled: it also counts a descendant no one waited for
        # (pyspark's JVM), which the children's rusage above misses.
        "tree_cpu_seconds": sum(tree_cpu.values()),
        "load_before": load,
        "load_after": os.getloadavg(),
    }


def run_phase(name: str, args: dict, env: dict | None = None) -> dict:
    """Run one phase in a child process (`env` added to its environment); its result,
    wall time and peak memory."""
    m = measure([sys.executable, __file__, "--phase", name, json.dumps(args)], env=env)
    if m["returncode"] != 0:
        raise SystemExit(f"phase {name} failed with exit code {m['returncode']}")
    result = json.loads(m.pop("stdout").strip().splitlines()[-1])
    return {**result, **m}


# ---------------------------------------------------------------- where a run's time goes


def _epoch(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _dbt_log(path: Path) -> dict | None:
    """When a dbt invocation's log starts, when it has parsed the project and could run
    nodes (the ConcurrencyLine), when its first query to the warehouse came back (the
    first SQLQueryStatus after that: on Spark, the JVM and the session start inside it),
    when it ends, and whether dbt had to re-parse the whole project."""
    start = nodes_at = connected_at = end = None
    full_parse = False
    for line in path.read_text().splitlines():
        try:
            info = json.loads(line)["info"]
            ts = _epoch(info["ts"])
        except (ValueError, KeyError, TypeError):
            continue
        start = ts if start is None else start
        if info.get("name") == "UnableToPartialParse":
            full_parse = True
        if info.get("name") == "ConcurrencyLine" and nodes_at is None:
            nodes_at = ts
        if info.get("name") == "SQLQueryStatus" and nodes_at and connected_at is None:
            connected_at = ts
        end = ts
    if start is None:
        return None
    return {
        "log_start": start,
        "nodes_at": nodes_at or end,
        "connected_at": connected_at or nodes_at or end,
        "end": end,
        "full_parse": full_parse,
    }


def dbt_invocations(artifacts: Path, since: float, until: float) -> list[dict]:
    """Each dbt invocation whose log starts within [since, until], with its nodes from
    `run_results.json`: kind (the `unique_id` prefix: model, test, unit_test, ...),
    start and end (epoch seconds), status and execution time."""
    found = []
    for folder in sorted(artifacts.iterdir()) if artifacts.is_dir() else []:
        log = folder / "dbt.log"
        if not log.is_file() or not since <= log.stat().st_mtime:
            continue
        stamps = _dbt_log(log)
        if stamps is None or not since <= stamps["log_start"] <= until:
            continue
        nodes = []
        results = folder / "run_results.json"
        for r in json.loads(results.read_text())["results"] if results.is_file() else []:
            timing = [t for t in r.get("timing", []) if t.get("started_at")]
            node = {
                "unique_id": r["unique_id"],
                "kind": r["unique_id"].split(".")[0],
                "status": r["status"],
                "seconds": float(r["execution_time"]),
            }
            if timing:
                node["start"] = min(_epoch(t["started_at"]) for t in timing)
                node["end"] = max(_epoch(t["completed_at"]) for t in timing)
            nodes.append(node)
        found.append({"folder": folder.name, **stamps, "nodes": nodes})
    return sorted(found, key=lambda inv: inv["log_start"])


def share_wall(nodes: list[dict], lo: float, hi: float) -> dict[str, float]:
    """Wall time [lo, hi] split among the kinds of the nodes running at each moment
    (two nodes at once each get half), and "idle" when none runs: the parts add up to
    hi - lo, unlike node times summed over dbt's threads."""
    spans = [(n["kind"], max(n["start"], lo), min(n["end"], hi)) for n in nodes if "start" in n]
    points = sorted({lo, hi, *(s for _, s, _ in spans), *(e for _, _, e in spans)})
    shares: dict[str, float] = {}
    for a, b in itertools.pairwise(points):
        if not lo <= a < b <= hi:
            continue
        running = [kind for kind, s, e in spans if s < b and e > a] or ["idle"]
        for kind in running:
            shares[kind] = shares.get(kind, 0.0) + (b - a) / len(running)
    return shares


DBT_KINDS = {
    "model": "dbt models",
    "test": "dbt tests",
    "unit_test": "dbt unit tests",
    "operation": "dbt hooks",
}
PHASES_SHOWN = [
    ("start-up: Python, imports, run creation (until the run's first event)", "startup_python"),
    ("start-up: Dagster, from the run's first event to its first step", "startup_dagster"),
    ("start-up: dbt process start and project parse (until dbt can run nodes)", "startup_dbt"),
    (
        "start-up: dbt's first warehouse query (on Spark: JVM, session, metastore)",
        "startup_connect",
    ),
    ("start-up: dbt schemas and relation cache (until its first hook or node)", "startup_schemas"),
    ("dbt on-run-start hooks (retention tables; on Spark: raw tables)", "dbt hooks"),
    ("raw load (steps of group raw)", "raw load"),
    ("dbt models", "dbt models"),
    ("dbt tests", "dbt tests"),
    ("dbt unit tests", "dbt unit tests"),
    ("dbt other nodes (seeds, snapshots)", "dbt other nodes"),
    # dbt blocks between nodes while the parent consumes its event stream (dagster-dbt).
    ("dbt idle: between nodes (waiting on Dagster's event stream), after the last", "dbt idle"),
    ("publish (steps of group publish)", "publish"),
    ("other steps", "other steps"),
    ("Dagster between and after steps", "between steps"),
]


def breakdown(
    started: float, wall: float, run_start: float | None, steps: list[dict], invocations: list[dict]
) -> dict:
    """A run's wall time (a process from `started`, `wall` seconds) in phases that add
    up to it: each step goes to its asset groups' phase; a step that ran dbt is split
    into dbt's start-up (process and parse, first warehouse query, schemas), its nodes
    by kind (hooks, models, tests), and the rest."""
    out = {key: 0.0 for _, key in PHASES_SHOWN}
    first = min((s["start"] for s in steps), default=started + wall)
    run_start = min(run_start or first, first)
    out["startup_python"] = run_start - started
    out["startup_dagster"] = first - run_start
    in_steps = 0.0
    for step in steps:
        in_steps += step["end"] - step["start"]
        mine = [inv for inv in invocations if step["start"] <= inv["log_start"] <= step["end"]]
        if mine:
            at = step["start"]
            for inv in mine:
                parsed = max(inv["nodes_at"], at)
                connected = min(max(inv["connected_at"], parsed), inv["end"])
                first_node = min(
                    (n["start"] for n in inv["nodes"] if "start" in n), default=inv["end"]
                )
                first_node = min(max(first_node, connected), inv["end"])
                out["startup_dbt"] += parsed - at
                out["startup_connect"] += connected - parsed
                out["startup_schemas"] += first_node - connected
                for kind, secs in share_wall(inv["nodes"], first_node, inv["end"]).items():
                    key = "dbt idle" if kind == "idle" else DBT_KINDS.get(kind, "dbt other nodes")
                    out[key] += secs
                at = inv["end"]
            out["dbt idle"] += step["end"] - at
        elif set(step["groups"]) == {"raw"}:
            out["raw load"] += step["end"] - step["start"]
        elif set(step["groups"]) == {"publish"}:
            out["publish"] += step["end"] - step["start"]
        else:
            out["other steps"] += step["end"] - step["start"]
    out["between steps"] = started + wall - first - in_steps
    out["fixed start-up"] = sum(v for k, v in out.items() if k.startswith("startup_"))
    out["total"] = wall
    out["full_parse"] = any(inv["full_parse"] for inv in invocations)
    return out


def slowest_nodes(invocations: list[dict], n: int = 8) -> list[dict]:
    nodes = [node for inv in invocations for node in inv["nodes"]]
    return sorted(nodes, key=lambda node: -node["seconds"])[:n]


# ---------------------------------------------------------------- marts, row for row


def mart_tables() -> list[str]:
    """Every table the snapshot publishes: the dbt models of the `marts` schema, from the
    manifest, as publishing lists them."""
    from orchestration.assets.publish import MART_ASSET_KEYS

    return sorted(key.path[-1] for key in MART_ASSET_KEYS)


# Columns that differ from one build to the next by design: the run's id and time.
PER_RUN_COLUMNS = ("run_id", "built_at")
# ... and from one engine to the other (`_meta` names the engine that built the marts).
PER_ENGINE_COLUMNS = ("engine", "engine_version")


def compare_marts(
    published: Path,
    baseline: Path,
    *,
    schema: str = "marts",
    ignore: tuple[str, ...] = PER_RUN_COLUMNS,
) -> dict[str, object]:
    """Rows in one and not the other, per mart (bags, so duplicates count), over the
    columns both sides have but `ignore`; a mart the baseline lacks differs by all its
    rows. `baseline` holds its marts in `schema` (the script's file: `marts`; another
    published snapshot: `main`). A column only one side has is named in the result
    (`only_columns`), not compared: the script has no `_meta.engine`."""
    import duckdb

    diffs = {}
    with duckdb.connect() as con:
        con.execute("attach ? as p (read_only)", [str(published)])
        con.execute("attach ? as b (read_only)", [str(baseline)])

        def columns(db: str, table: str) -> list[str]:
            return [
                r[0]
                for r in con.execute(
                    "select column_name from duckdb_columns() where database_name = ? "
                    "and schema_name = ? and table_name = ? order by column_index",
                    [db, "main" if db == "p" else schema, table],
                ).fetchall()
            ]

        in_baseline = {
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() where database_name = 'b' "
                "and schema_name = ?",
                [schema],
            ).fetchall()
        }
        for table in mart_tables():
            if table not in in_baseline:
                (rows,) = con.execute(f'select count(*) from p.main."{table}"').fetchone()
                diffs[table] = {"rows": rows, "only_pipeline": rows, "only_baseline": 0}
                continue
            mine, theirs = columns("p", table), columns("b", table)
            cols = [c for c in mine if c in theirs and c not in ignore]
            sel = ", ".join(f'"{c}"' for c in cols)
            p = f'select {sel} from p.main."{table}"'
            b = f'select {sel} from b.{schema}."{table}"'
            (only_p,) = con.execute(f"select count(*) from ({p} except all {b})").fetchone()
            (only_b,) = con.execute(f"select count(*) from ({b} except all {p})").fetchone()
            (rows,) = con.execute(f"select count(*) from ({p})").fetchone()
            diffs[table] = {"rows": rows, "only_pipeline": only_p, "only_baseline": only_b}
            one_side = sorted((set(mine) ^ set(theirs)) - set(ignore))
            if one_side:
                diffs[table]["only_columns"] = one_side
    return diffs


def compare_snapshots(published: Path, duckdb_published: Path) -> dict[str, object]:
    """compare_marts between two published snapshots (another engine's and DuckDB's), all
    but what says which run and engine built them."""
    return compare_marts(
        published, duckdb_published, schema="main", ignore=PER_RUN_COLUMNS + PER_ENGINE_COLUMNS
    )


def marts_line(diffs: dict) -> str:
    bad = {t: d for t, d in diffs.items() if d["only_pipeline"] or d["only_baseline"]}
    counts = ", ".join(f"{t} {d['rows']:,}" for t, d in diffs.items())
    skipped = "; ".join(
        f"{t}: not compared {', '.join(d['only_columns'])} (one side only)"
        for t, d in diffs.items()
        if d.get("only_columns")
    )
    return (
        ("identical" if not bad else f"DIFFER in {bad}")
        + f" ({counts})"
        + (f"; {skipped}" if skipped else "")
    )


# ---------------------------------------------------------------- the read API


def convtrack_command() -> list[str]:
    """The `convtrack` command of this venv, as a user runs it."""
    script = Path(sys.executable).with_name("convtrack")
    return [str(script)] if script.exists() else [sys.executable, "-m", "convtrack.cli"]


def attributed_tracking_ids(snapshot: Path, n: int) -> list[str]:
    """`n` random tracking ids with an attributed conversion, from the snapshot."""
    import duckdb

    with duckdb.connect() as con:
        con.execute("attach ? as s (read_only)", [str(snapshot)])
        rows = con.execute(
            "select tracking_id from (select distinct tracking_id from s.main.fct_conversions)"
            f" using sample reservoir({int(n)} rows) repeatable ({SEED % 10_000})"
        ).fetchall()
    return sorted(r[0] for r in rows)


def percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    rank99 = max(0, -(-99 * len(ordered) // 100) - 1)  # nearest rank
    return {
        "n": len(ordered),
        "p50_ms": statistics.median(ordered) * 1e3,
        "p99_ms": ordered[rank99] * 1e3,
        "max_ms": ordered[-1] * 1e3,
    }


def direct_lookups(snapshot: Path, ids: list[str]) -> dict:
    """The baseline: the read API's own queries for the route on a reading of the same
    SnapshotReader (its as-of day read when the file was opened), in this process, no
    HTTP."""
    from collector.read import queries
    from collector.read.snapshot import SnapshotReader

    reader = SnapshotReader(snapshot)

    def lookup(tracking_id: str) -> float:
        t0 = time.perf_counter()
        reading = reader.read()
        try:
            queries.attribution(reading.cursor, tracking_id)
        finally:
            reading.cursor.close()
        return time.perf_counter() - t0

    try:
        first = lookup(ids[0])  # opens the snapshot
        return {**percentiles([lookup(t) for t in ids]), "first_ms": first * 1e3}
    finally:
        reader.close()


def api_lookups(data_dir: Path, ids: list[str], log: Path) -> dict:
    """GET /api/conversions/attribution/{id} for each id, one after another on one
    keep-alive connection, from a real `convtrack serve` on 127.0.0.1 (the demo's and the
    tests' helper starts it); the server is stopped by its pid at the end, always."""
    import httpx

    from convtrack.collector_process import free_port, spawn_collector, stop_collector_process

    port = free_port()
    token = secrets.token_urlsafe(24)
    env = {**os.environ, "CONVTRACK_DATA_DIR": str(data_dir), "CONVTRACK_READ_TOKEN": token}
    server = spawn_collector(env, port, log)
    try:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
            failures: list[str] = []

            def lookup(tracking_id: str) -> float:
                t0 = time.perf_counter()
                resp = client.get(f"/api/conversions/attribution/{tracking_id}", timeout=30)
                seconds = time.perf_counter() - t0
                if resp.status_code != 200 or not resp.json().get("conversions"):
                    failures.append(f"{tracking_id}: {resp.status_code} {resp.text[:200]}")
                return seconds

            first = lookup(ids[0])  # the server opens the snapshot
            times = [lookup(t) for t in ids]
    finally:
        stop_collector_process(server)
    return {**percentiles(times), "first_ms": first * 1e3, "failures": failures, "port": port}


# ---------------------------------------------------------------- runs


def gen_args(work: Path, clicks: int, conversions: int, days: int, links: int) -> dict:
    return {
        "work": str(work),
        "clicks": clicks,
        "conversions": conversions,
        "days": days,
        "links": links,
    }


def engine_env(engine: str) -> dict[str, str]:
    """The environment a run on `engine` gets (docs/operations.md#engines)."""
    return {
        "CONVTRACK_ENGINE": engine,
        **({"SPARK_LOCAL_IP": "127.0.0.1"} if engine == "spark" else {}),
    }


def mirror_raw(data_dir: Path, other: Path) -> int:
    """Copy the raw files of `data_dir` that `other` lacks into `other`: the same rows,
    byte for byte, for a build on another engine. Returns the number of files copied."""
    copied_files = 0
    for src in sorted((data_dir / "raw").rglob("*")):
        dst = other / src.relative_to(data_dir)
        if src.is_file() and not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
            copied_files += 1
    return copied_files


def run_pipeline_phase(engine: str, data_dir: Path, first: str, last: str) -> dict:
    """The job over [first, last] on `engine`, in a child process; exits on failure."""
    run = run_phase(
        "pipeline",
        {"data_dir": str(data_dir), "first": first, "last": last},
        env=engine_env(engine),
    )
    if not run["success"]:
        raise SystemExit(f"the pipeline run on {engine} over {first} .. {last} failed ({data_dir})")
    return run


def full_build(
    work: Path, clicks: int, conversions: int, days: int, links: int, mirror: Path | None = None
) -> dict:
    """Generate, import and run the whole job over the history in `work`; with `mirror`,
    a data dir that gets a copy of the imported raw files (for another engine's build)."""
    shutil.rmtree(work, ignore_errors=True)
    data_dir = work / "data"
    gen = run_phase("generate", gen_args(work, clicks, conversions, days, links))
    imp = run_phase(
        "import",
        {"data_dir": str(data_dir), "files": gen["files"]["history"], "links": gen["links"]},
    )
    if mirror:
        mirror_raw(data_dir, mirror)
    from orchestration.run import first_raw_day

    # As run_pipeline: from the first raw day of any stream (the links were recorded
    # before the first click) to the last day of the history.
    first = first_raw_day(settings_for(data_dir), FIRST_DAY + dt.timedelta(days=days)).isoformat()
    full = run_pipeline_phase("duckdb", data_dir, first, gen["last_history_day"])
    return {
        "work": work,
        "data_dir": data_dir,
        "gen": gen,
        "import": imp,
        "full": full,
        "first": first,
    }


def job_phases(run: dict, data_dir: Path) -> dict:
    from orchestration.dbt_env import dbt_artifacts_dir

    artifacts = dbt_artifacts_dir(settings_for(data_dir))
    end = run["started"] + run["epoch_seconds"]
    invocations = dbt_invocations(artifacts, run["started"], end)
    phases = breakdown(
        run["started"], run["epoch_seconds"], run.get("run_start"), run["steps"], invocations
    )
    nodes = [
        {"unique_id": n["unique_id"], "seconds": n["seconds"], "status": n["status"]}
        for inv in invocations
        for n in inv["nodes"]
    ]
    return {"phases": phases, "slowest": slowest_nodes(invocations), "nodes": nodes}


def tiny_history(work: Path, days: int) -> dict:
    """~100 events over `days` days, imported, then `convtrack pipeline run --as-of DAY`
    as a user runs it: a subprocess, CONVTRACK_DATA_DIR set, a fresh data dir whose
    persistent Dagster instance the CLI makes; and the script on the same data."""
    shutil.rmtree(work, ignore_errors=True)
    data_dir = work / "data"
    gen = run_phase("generate", gen_args(work, TINY_CLICKS, TINY_CONVERSIONS, days, 5))
    run_phase(
        "import",
        {"data_dir": str(data_dir), "files": gen["files"]["history"], "links": gen["links"]},
    )
    as_of = gen["last_history_day"]
    cli = cli_pipeline_run("duckdb", data_dir, as_of, work / "pipeline-run.log")
    base = run_phase(
        "baseline",
        {"data_dir": str(data_dir), "out_db": str(work / "baseline.duckdb"), "as_of": as_of},
    )
    return {
        "events": gen["history_clicks"] + gen["history_conversions"],
        "data_dir": str(data_dir),
        "as_of": as_of,
        "cli": cli,
        "phases": job_phases(cli, data_dir)["phases"],
        "baseline": base,
        "diffs": compare_marts(
            data_dir / "warehouse" / "published.duckdb", work / "baseline.duckdb"
        ),
    }


def cli_pipeline_run(engine: str, data_dir: Path, as_of: str, log: Path) -> dict:
    """`convtrack pipeline run --as-of DAY` on `engine`, as a user runs it, measured;
    with the run's step timeline from the data dir's Dagster instance."""
    cli = measure(
        [*convtrack_command(), "pipeline", "run", "--as-of", as_of],
        env={"CONVTRACK_DATA_DIR": str(data_dir), **engine_env(engine)},
        log=log,
    )
    found = re.search(r"pipeline run (\S+) built", cli["stdout"])
    if cli["returncode"] != 0 or not found:
        raise SystemExit(f"convtrack pipeline run failed on {engine} ({log}): {cli['stdout']}")
    steps = run_phase(
        "run_steps", {"data_dir": str(data_dir), "run_id": found.group(1)}, env=engine_env(engine)
    )
    # Only the run's timeline: the phase's own measurement (its wall time, its start)
    # must not stand in for the CLI's.
    cli.update({key: steps[key] for key in ("run_start", "events_before_first_step", "steps")})
    return cli


def spark_tiny(work: Path, tiny: dict) -> dict:
    """The tiny history's raw files (copied from DuckDB's tiny data dir) built on Spark
    by `convtrack pipeline run`; its marts against the script's and DuckDB's."""
    shutil.rmtree(work, ignore_errors=True)
    data_dir = work / "data"
    mirror_raw(Path(tiny["data_dir"]), data_dir)
    cli = cli_pipeline_run("spark", data_dir, tiny["as_of"], work / "pipeline-run.log")
    published = data_dir / "warehouse" / "published.duckdb"
    duck = Path(tiny["data_dir"])
    return {
        "cli": cli,
        **job_phases(cli, data_dir),
        "diffs": compare_marts(published, duck.parent / "baseline.duckdb"),
        "diffs_duckdb": compare_snapshots(published, duck / "warehouse" / "published.duckdb"),
    }


def growth(opts, sizes: list[int], reuse: dict | None) -> dict:
    """The full pipeline at each number of clicks (conversions at 10 %); the PNG."""
    points = []
    for clicks in sizes:
        conversions = clicks // 10
        if reuse and (clicks, conversions) == (opts.clicks, opts.conversions):
            build = reuse
        else:
            work = opts.work.resolve() / f"scale-{clicks}"
            build = full_build(work, clicks, conversions, opts.days, opts.links)
            if not opts.keep:
                shutil.rmtree(work, ignore_errors=True)
        full = build["full"]
        points.append(
            {
                "clicks": build["gen"]["history_clicks"],
                "conversions": build["gen"]["history_conversions"],
                "seconds": full["wall_seconds"],
                "peak_gb": full["peak_tree_rss"] / 2**30,
            }
        )
        print(
            f"  scale {clicks:,} clicks: {full['wall_seconds']:.1f} s, "
            f"peak {gb(full['peak_tree_rss'])}",
            flush=True,
        )
    png = run_phase("plot", {"points": points, "out": str(SCALE_PNG)})
    return {"points": points, "png": png["path"]}


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


def git_commit() -> str:
    """The commit measured (with `+` when the work tree differs from it)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+" if dirty else "")


def gb(n: float) -> str:
    return f"{n / 2**30:.2f} GB"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "met" if ok else "MISSED"


def rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f} rows/s"


def print_table(header: tuple, rows: list[tuple]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def linear_growth(points: list[dict]) -> tuple[list[tuple], bool]:
    """Per size: time and memory per million clicks; met when neither grows from one
    size to the next by more than SCALE_TOLERANCE."""
    rows, ok = [], True
    previous = None
    for p in points:
        per = (p["seconds"] / (p["clicks"] / 1e6), p["peak_gb"] / (p["clicks"] / 1e6))
        if previous:
            ok &= (
                per[0] <= previous[0] * SCALE_TOLERANCE and per[1] <= previous[1] * SCALE_TOLERANCE
            )
        previous = per
        rows.append(
            (
                f"{p['clicks']:,}",
                f"{p['conversions']:,}",
                f"{p['seconds']:.1f} s",
                f"{p['peak_gb']:.2f} GB",
                f"{per[0]:.2f} s",
                f"{per[1]:.3f} GB",
            )
        )
    return rows, ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=10_000_000)
    parser.add_argument("--conversions", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--links", type=int, default=50)
    parser.add_argument("--work", type=Path, default=Path("/tmp/convtrack-pipeline-bench"))
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--scale",
        help="comma-separated numbers of clicks: the full pipeline at each (growth, PNG)",
    )
    parser.add_argument("--scale-only", action="store_true", help="only the growth curve")
    parser.add_argument(
        "--engines",
        default="duckdb",
        help="duckdb (the default) or duckdb,spark: the full build, the new day and the "
        "tiny history on Spark too, beside DuckDB's",
    )
    parser.add_argument(
        "--report", type=Path, help="print the report of an earlier run's --json file, and stop"
    )
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("phase_args", nargs="?", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.phase:
        result = PHASES[opts.phase](json.loads(opts.phase_args))
        print(json.dumps(result, default=str))
        return
    if opts.report:
        print_reports(opts, json.loads(opts.report.read_text()))
        return
    sizes = [int(s.replace("_", "")) for s in opts.scale.split(",")] if opts.scale else []
    if opts.scale_only and not sizes:
        parser.error("--scale-only needs --scale")
    opts.engines = [e.strip() for e in opts.engines.split(",") if e.strip()]
    if "duckdb" not in opts.engines or not set(opts.engines) <= {"duckdb", "spark"}:
        parser.error("--engines: duckdb, or duckdb,spark (Spark is measured beside DuckDB)")
    if "spark" in opts.engines and opts.scale_only:
        parser.error("--engines duckdb,spark measures no growth: leave out --scale-only")

    # A SIGTERM ends the bench through `finally` blocks (the read API's server is stopped).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = opts.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    print(f"machine: {machine()}")
    print(f"work dir: {work}; load average at start: {os.getloadavg()}", flush=True)
    bench_t0 = time.perf_counter()
    figures: dict[str, object] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "commit": git_commit(),
        "engines": opts.engines,
    }
    main_build = None
    if not opts.scale_only:
        main_build = measure_everything(opts, work, figures)
    if sizes:
        print(f"\ngrowth: the full pipeline at {', '.join(f'{s:,}' for s in sizes)} clicks")
        figures["growth"] = growth(opts, sizes, main_build)
    figures["bench_seconds"] = time.perf_counter() - bench_t0
    figures["load_at_end"] = os.getloadavg()
    if opts.json:
        opts.json.write_text(json.dumps(figures, indent=1, default=str))
    print_reports(opts, figures)
    if not opts.keep:
        shutil.rmtree(work, ignore_errors=True)


def print_reports(opts, figures: dict) -> None:
    """The tables of one run's figures (of this run, or of a --json file)."""
    report(opts, figures)
    if "spark" in figures:
        report_spark(figures)
    print(
        f"\nthe bench took {figures['bench_seconds']:.0f} s (commit {figures['commit']}; "
        f"load average at the end {figures['load_at_end']})"
    )


def measure_everything(opts, work: Path, figures: dict) -> dict:
    """Every figure but growth; prints progress; fills `figures`."""
    spark = "spark" in opts.engines
    spark_dir = work / "spark" / "data"
    build = full_build(
        work / "history",
        opts.clicks,
        opts.conversions,
        opts.days,
        opts.links,
        mirror=spark_dir if spark else None,
    )
    gen, imp, full, data_dir = build["gen"], build["import"], build["full"], build["data_dir"]
    print(
        f"generated {gen['history_clicks']:,} clicks and {gen['history_conversions']:,} "
        f"conversions over {opts.days} days (+ {gen['new_day_clicks']:,} / "
        f"{gen['new_day_conversions']:,} on day {opts.days + 1}) in {gen['wall_seconds']:.1f} s"
    )
    print(f"full pipeline: {full['wall_seconds']:.1f} s", flush=True)
    history_files = gen["files"]["history"]
    imp_base = run_phase(
        "copy_baseline", {"files": history_files, "out": str(work / "copy.parquet")}
    )

    sample = run_phase(
        "json_sample",
        {
            "files": [f for f in history_files if Path(f).name.startswith("clicks")],
            "out": str(work / "json" / "clicks-sample.jsonl"),
            "rows": JSON_SAMPLE_ROWS,
        },
    )
    json_imp = run_phase(
        "import",
        {"data_dir": str(work / "json" / "data"), "files": [sample["path"]], "links": gen["links"]},
    )
    json_base = run_phase(
        "copy_baseline", {"files": [sample["path"]], "out": str(work / "json" / "copy.parquet")}
    )
    shutil.rmtree(work / "json", ignore_errors=True)
    print(f"imports measured ({sample['rows']:,} clicks as JSON lines)", flush=True)

    last = gen["last_history_day"]
    base = run_phase(
        "baseline",
        {"data_dir": str(data_dir), "out_db": str(work / "baseline.duckdb"), "as_of": last},
    )
    diffs = compare_marts(data_dir / "warehouse" / "published.duckdb", work / "baseline.duckdb")
    print(f"baseline script: {base['wall_seconds']:.1f} s; marts {marts_line(diffs)}", flush=True)
    published = data_dir / "warehouse" / "published.duckdb"
    if spark:
        figures["spark"] = sp = {
            "session": run_phase(
                "spark_session",
                {
                    "scratch": str(work / "spark" / "probe"),
                    "master": settings_for(data_dir).spark_master,
                },
                env=engine_env("spark"),
            )
        }
        print(f"Spark session alone: {sp['session']['session_seconds']:.1f} s", flush=True)
        sp["full"] = run_pipeline_phase("spark", spark_dir, build["first"], last)
        sp["full_phases"] = job_phases(sp["full"], spark_dir)
        sp["diffs"] = compare_marts(
            spark_dir / "warehouse" / "published.duckdb", work / "baseline.duckdb"
        )
        sp["diffs_duckdb"] = compare_snapshots(
            spark_dir / "warehouse" / "published.duckdb", published
        )
        print(
            f"full pipeline on Spark: {sp['full']['wall_seconds']:.1f} s; marts vs script "
            f"{marts_line(sp['diffs'])}; vs DuckDB's {marts_line(sp['diffs_duckdb'])}",
            flush=True,
        )

    imp_new = run_phase("import", {"data_dir": str(data_dir), "files": gen["files"]["new_day"]})
    new_day = gen["new_day"]
    inc = run_pipeline_phase("duckdb", data_dir, new_day, new_day)
    print(f"new day: {inc['wall_seconds']:.1f} s", flush=True)
    if spark:
        mirror_raw(data_dir, spark_dir)
        sp["new_day"] = run_pipeline_phase("spark", spark_dir, new_day, new_day)
        sp["new_day_phases"] = job_phases(sp["new_day"], spark_dir)
        sp["new_day_diffs_duckdb"] = compare_snapshots(
            spark_dir / "warehouse" / "published.duckdb", published
        )
        print(
            f"new day on Spark: {sp['new_day']['wall_seconds']:.1f} s; marts vs DuckDB's "
            f"{marts_line(sp['new_day_diffs_duckdb'])}",
            flush=True,
        )

    snapshot = data_dir / "warehouse" / "published.duckdb"
    ids = attributed_tracking_ids(snapshot, LOOKUPS)
    direct = direct_lookups(snapshot, ids)
    api = api_lookups(data_dir, ids, work / "serve.log")
    print(f"lookups: read API p99 {api['p99_ms']:.1f} ms", flush=True)

    tiny = tiny_history(work / "tiny", opts.days)
    print(f"tiny history: {tiny['cli']['wall_seconds']:.1f} s", flush=True)
    if spark:
        sp["tiny"] = spark_tiny(work / "spark" / "tiny", tiny)
        print(
            f"tiny history on Spark: {sp['tiny']['cli']['wall_seconds']:.1f} s; marts vs "
            f"script {marts_line(sp['tiny']['diffs'])}",
            flush=True,
        )

    figures.update(
        generate=gen,
        import_parquet=imp,
        import_parquet_baseline=imp_base,
        json_sample=sample,
        import_json=json_imp,
        import_json_baseline=json_base,
        full=full,
        full_phases=job_phases(full, data_dir),
        baseline=base,
        diffs=diffs,
        new_day_import=imp_new,
        new_day=inc,
        new_day_phases=job_phases(inc, data_dir),
        lookups={"ids": len(ids), "api": api, "direct": direct},
        tiny=tiny,
    )
    return build


def streams(imp: dict) -> dict[str, dict]:
    """The per-stream results of an import phase (the rest is how it was measured)."""
    return {k: v for k, v in imp.items() if isinstance(v, dict) and "accepted" in v}


def report(opts, f: dict) -> None:
    rows = []
    if "full" in f:
        full, base, inc, gen = f["full"], f["baseline"], f["new_day"], f["generate"]
        tiny, api, direct = f["tiny"], f["lookups"]["api"], f["lookups"]["direct"]
        ratio = full["wall_seconds"] / base["wall_seconds"]
        share = inc["wall_seconds"] / full["wall_seconds"]
        imp = f["import_parquet"]
        p_rows = sum(s["accepted"] + s["rejected"] for s in streams(imp).values())
        p_secs = sum(s["seconds"] for s in streams(imp).values())
        j = f["import_json"]["clicks"]
        j_rows = j["accepted"] + j["rejected"]
        pb, jb = f["import_parquet_baseline"], f["import_json_baseline"]
        tb = tiny["baseline"]
        rows = [
            (
                f"full pipeline, {gen['history_clicks']:,} clicks + "
                f"{gen['history_conversions']:,} conversions / {opts.days} d",
                f"{full['wall_seconds']:.1f} s (job {full['job_seconds']:.1f} s)",
                f"script {base['wall_seconds']:.1f} s",
                f"≤ {TARGET_PIPELINE_S:.0f} s",
                verdict(full["wall_seconds"] <= TARGET_PIPELINE_S),
            ),
            (
                "  / bench/baseline_marts.sql (same run)",
                f"{ratio:.2f}x",
                f"{full['wall_seconds']:.1f} / {base['wall_seconds']:.1f} s",
                f"≤ {TARGET_RATIO_TO_BASELINE:.0f}x",
                verdict(ratio <= TARGET_RATIO_TO_BASELINE),
            ),
            ("  / a minimal attribution script", "—", "none in the bench", "", verdict(None)),
            (
                "  peak memory, whole process tree",
                gb(full["peak_tree_rss"]),
                f"script {gb(base['peak_tree_rss'])}",
                f"≤ {TARGET_PEAK_GB:.0f} GB",
                verdict(full["peak_tree_rss"] <= TARGET_PEAK_GB * 2**30),
            ),
            (
                f"one new day ({gen['new_day_clicks']:,} clicks, "
                f"{gen['new_day_conversions']:,} conv.)",
                f"{inc['wall_seconds']:.1f} s = {share:.1%}",
                f"full build {full['wall_seconds']:.1f} s",
                f"≤ {TARGET_NEW_DAY_SHARE:.0%}",
                verdict(share <= TARGET_NEW_DAY_SHARE),
            ),
            (
                f"tiny history ({tiny['events']} events / {opts.days} d), `convtrack pipeline run`",
                f"{tiny['cli']['wall_seconds']:.1f} s, peak {gb(tiny['cli']['peak_tree_rss'])}",
                f"script {tb['wall_seconds']:.1f} s ({tb['seconds']:.2f} s in DuckDB)",
                f"≤ {TARGET_TINY_S:.0f} s",
                verdict(tiny["cli"]["wall_seconds"] <= TARGET_TINY_S),
            ),
            (
                f"import from Parquet ({p_rows:,} rows)",
                f"{rate(p_rows, p_secs)}, peak {gb(imp['peak_tree_rss'])}",
                f"DuckDB copy {rate(pb['rows'], pb['seconds'])}",
                f"≥ {TARGET_PARQUET_ROWS_S / 1e6:.0f}M rows/s",
                verdict(p_rows / p_secs >= TARGET_PARQUET_ROWS_S),
            ),
            (
                f"import from JSON lines ({j_rows:,} clicks)",
                f"{rate(j_rows, j['seconds'])}, peak {gb(f['import_json']['peak_tree_rss'])}",
                f"DuckDB copy {rate(jb['rows'], jb['seconds'])}",
                f"≥ {TARGET_JSON_ROWS_S / 1e3:.0f}K rows/s",
                verdict(j_rows / j["seconds"] >= TARGET_JSON_ROWS_S),
            ),
            (
                f"attribution lookup, read API ({api['n']} attributed ids)",
                f"p50 {api['p50_ms']:.1f} ms, p99 {api['p99_ms']:.1f} ms",
                f"DuckDB direct p50 {direct['p50_ms']:.1f}, p99 {direct['p99_ms']:.1f} ms",
                f"p99 ≤ {TARGET_LOOKUP_P99_MS:.0f} ms",
                verdict(api["p99_ms"] <= TARGET_LOOKUP_P99_MS and not api["failures"]),
            ),
        ]
    growth_rows, growth_ok = linear_growth(f["growth"]["points"]) if "growth" in f else ([], None)
    if growth_rows:
        rows.append(
            (
                "growth: time and memory per million clicks",
                " → ".join(r[4] for r in growth_rows),
                " → ".join(r[5] for r in growth_rows),
                f"per-M growth ≤ {SCALE_TOLERANCE - 1:.0%}",
                verdict(growth_ok),
            )
        )
    print()
    print_table(("what", "measured", "baseline (same run)", "target", ""), rows)

    if "full" in f:
        cols = [
            ("full build", f["full_phases"]["phases"]),
            ("new day", f["new_day_phases"]["phases"]),
        ]
        cols.append(("tiny (CLI)", f["tiny"]["phases"]))
        runs = [f["full"], f["new_day"], f["tiny"]["cli"]]
        print("\nwhere the time goes (wall seconds; the parts add up to the total):")
        phase_rows = [
            ("fixed start-up", *(f"{p['fixed start-up']:.2f}" for _, p in cols)),
            *(
                (
                    f"  {label}" if key.startswith("startup") else label,
                    *(f"{p[key]:.2f}" for _, p in cols),
                )
                for label, key in PHASES_SHOWN
            ),
            ("total (process wall, wall clock)", *(f"{p['total']:.2f}" for _, p in cols)),
            ("dbt re-parsed the whole project", *(str(p["full_parse"]) for _, p in cols)),
            (
                "Dagster events before the first step",
                *(str(r.get("events_before_first_step")) for r in runs),
            ),
        ]
        print_table(("phase", *(name for name, _ in cols)), phase_rows)
        for (name, _), run in zip(cols, runs, strict=True):
            jump = run["epoch_seconds"] - run["wall_seconds"]
            if abs(jump) > 1:
                print(
                    f"WARNING {name}: the wall clock moved {jump:+.1f} s more than the "
                    "monotonic clock (machine paused?): the phases include it, the "
                    f"table's {run['wall_seconds']:.1f} s does not"
                )
        full = f["full"]
        print(
            f"full build: Python start + imports {full['imports_seconds']:.1f} s; "
            f"CPU {full['cpu_seconds']:.0f} s (script {f['baseline']['cpu_seconds']:.0f} s); "
            f"load {full['load_before']} -> {full['load_after']}"
        )
        for label, run in (
            ("full build", full),
            ("new day", f["new_day"]),
            ("tiny", f["tiny"]["cli"]),
        ):
            steps = ", ".join(
                f"{s['step']} [{'+'.join(s['groups'])}] {s['end'] - s['start']:.1f}"
                for s in run["steps"]
            )
            print(f"{label} steps (s): {steps}")
        for label, key in (("full build", "full_phases"), ("new day", "new_day_phases")):
            print(f"slowest dbt nodes, {label} (execution time, s):")
            for node in f[key]["slowest"]:
                print(f"  {node['seconds']:7.2f}  {node['status']:<7} {node['unique_id']}")

        imp = f["import_parquet"]
        for stream, s in streams(imp).items():
            print(
                f"import {stream} (Parquet): {s['accepted']:,} accepted, {s['rejected']:,} "
                f"rejected in {s['seconds']:.1f} s = {rate(s['accepted'] + s['rejected'], s['seconds'])}"
            )
        api, direct = f["lookups"]["api"], f["lookups"]["direct"]
        print(
            f"lookups: first request {api['first_ms']:.0f} ms (opens the snapshot; direct "
            f"{direct['first_ms']:.0f} ms), max {api['max_ms']:.1f} ms; "
            f"failures {len(api['failures'])}{': ' + api['failures'][0] if api['failures'] else ''}"
        )
        print(f"\nmarts, pipeline vs script: {marts_line(f['diffs'])}")
        print(f"tiny marts, pipeline vs script: {marts_line(f['tiny']['diffs'])}")

    if growth_rows:
        print("\ngrowth (conversions at 10 % of clicks); PNG:", f["growth"]["png"])
        print_table(
            (
                "clicks",
                "conversions",
                "time",
                "peak memory",
                "time / M clicks",
                "memory / M clicks",
            ),
            growth_rows,
        )


def report_spark(f: dict) -> None:
    """The Spark runs beside DuckDB's of the same run: times, ratios, where the time goes,
    each model's time, the marts compared."""
    sp, probe = f["spark"], f["spark"]["session"]
    runs = [
        ("full build", f["full"], sp["full"]),
        ("one new day", f["new_day"], sp["new_day"]),
        ("tiny history, `convtrack pipeline run`", f["tiny"]["cli"], sp["tiny"]["cli"]),
    ]
    rows = []
    for name, duck, spark in runs:
        rows.append(
            (
                name,
                f"{duck['wall_seconds']:.1f} s",
                f"{spark['wall_seconds']:.1f} s",
                f"{spark['wall_seconds'] / duck['wall_seconds']:.1f}x",
                f"{duck['tree_cpu_seconds']:.0f} / {spark['tree_cpu_seconds']:.0f} s",
                f"{gb(duck['peak_tree_rss'])} / {gb(spark['peak_tree_rss'])}",
                f"{spark['load_before'][0]:.1f} → {spark['load_after'][0]:.1f}",
            )
        )
    print(
        f"\nSpark beside DuckDB, same data, same run (Spark {probe['spark_version']}, "
        f"Java {probe['java_version']}):"
    )
    print_table(
        (
            "run",
            "DuckDB",
            "Spark",
            "Spark / DuckDB",
            "CPU, DuckDB / Spark",
            "peak memory, DuckDB / Spark",
            "load (1 min) during Spark's",
        ),
        rows,
    )
    print(
        f"Spark session alone (a process of its own): JVM and session start "
        f"{probe['session_seconds']:.1f} s, first catalogue query (Derby metastore made) "
        f"{probe['first_catalog_query_seconds']:.1f} s, first job "
        f"{probe['first_job_seconds']:.1f} s, a warm job {probe['warm_job_seconds']:.2f} s; "
        f"a one-row table created {probe['create_table_seconds']:.2f} s and queried "
        f"{probe['query_table_seconds']:.2f} s (medians of 5)"
    )

    cols = [
        ("full, DuckDB", f["full_phases"]["phases"]),
        ("full, Spark", sp["full_phases"]["phases"]),
        ("new day, DuckDB", f["new_day_phases"]["phases"]),
        ("new day, Spark", sp["new_day_phases"]["phases"]),
        ("tiny, DuckDB", f["tiny"]["phases"]),
        ("tiny, Spark", sp["tiny"]["phases"]),
    ]
    print("\nwhere the time goes, DuckDB beside Spark (wall seconds; the parts add up):")
    print_table(
        ("phase", *(name for name, _ in cols)),
        [
            ("fixed start-up", *(f"{p['fixed start-up']:.1f}" for _, p in cols)),
            *(
                (
                    f"  {label}" if key.startswith("startup") else label,
                    *(f"{p[key]:.1f}" for _, p in cols),
                )
                for label, key in PHASES_SHOWN
            ),
            ("total", *(f"{p['total']:.1f}" for _, p in cols)),
        ],
    )

    def by_kind(nodes: list[dict]) -> dict[str, list[float]]:
        kinds: dict[str, list[float]] = {}
        for n in nodes:
            kinds.setdefault(n["unique_id"].split(".")[0], []).append(n["seconds"])
        return kinds

    def times(nodes: list[dict]) -> dict[str, float]:
        return {
            n["unique_id"].split(".")[-1]: n["seconds"]
            for n in nodes
            if n["unique_id"].startswith("model.")
        }

    duck_models, spark_models = times(f["full_phases"]["nodes"]), times(sp["full_phases"]["nodes"])
    print("\neach model, full build (its own execution time, s; dbt runs 2 at a time):")
    model_rows = [
        (
            name,
            f"{duck_models.get(name, float('nan')):.2f}",
            f"{spark_models.get(name, float('nan')):.2f}",
        )
        for name in sorted(
            set(duck_models) | set(spark_models), key=lambda m: -spark_models.get(m, 0)
        )
    ]
    for label, nodes_d, nodes_s in (
        ("full build", f["full_phases"]["nodes"], sp["full_phases"]["nodes"]),
        ("new day", f["new_day_phases"]["nodes"], sp["new_day_phases"]["nodes"]),
    ):
        kd, ks = by_kind(nodes_d), by_kind(nodes_s)
        for kind in sorted(set(kd) | set(ks)):
            d, s_ = kd.get(kind, []), ks.get(kind, [])
            model_rows.append(
                (
                    f"all {kind}s, {label} (n, sum, mean)",
                    f"{len(d)}, {sum(d):.1f}, {statistics.mean(d) if d else 0:.2f}",
                    f"{len(s_)}, {sum(s_):.1f}, {statistics.mean(s_) if s_ else 0:.2f}",
                )
            )
    print_table(("model", "DuckDB", "Spark"), model_rows)

    print(f"\nSpark's marts, full build, vs the script: {marts_line(sp['diffs'])}")
    print(f"Spark's marts, full build, vs DuckDB's: {marts_line(sp['diffs_duckdb'])}")
    print(f"Spark's marts, new day, vs DuckDB's: {marts_line(sp['new_day_diffs_duckdb'])}")
    print(f"Spark's tiny marts vs the script: {marts_line(sp['tiny']['diffs'])}")
    print(f"Spark's tiny marts vs DuckDB's: {marts_line(sp['tiny']['diffs_duckdb'])}")


if __name__ == "__main__":
    main()
