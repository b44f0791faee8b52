"""Collector benchmark: durable conversions, redirects and batches vs a bare app.

Not a test. Starts a real `convtrack serve --workers N` (uvloop, httptools; N = the
cores, unless `--workers`) on a fresh data directory and, beside it, a bare FastAPI app
served the same way with the same number of workers (`bench/bare_app.py`, no storage). Maximum throughput is measured with `wrk`
(`bench/conversions.lua` makes every POST body with fresh ids); latency at a fixed
1,000 req/s with the open-loop generator below (wrk has no fixed rate; `wrk2` is not in
Debian), which times each request from when it was due, so a stall counts in full.
Every figure is printed beside the bare app's, measured in the same run, the two sides
taking turns (`--rounds` slices each) so that the machine's drift hits both alike.

    .venv/bin/python bench/collector_bench.py [--seconds 10] [--rounds 5] [--connections 32]
                                              [--rate 1000] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import uvloop

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
ADMIN_TOKEN = "bench-admin"
BATCH_SIZE = 100
FIXED_RATE = 1000

TARGET_CONVERSIONS_PER_S = 3000
TARGET_RATIO_TO_BARE = 0.5
TARGET_P99_MS = 50
TARGET_BATCH_EVENTS_PER_S = 50_000
TARGET_REDIRECTS_PER_S = 3000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    base_url: str
    host: str
    port: int
    pid: int

    def cpu_seconds(self) -> float:
        """User + system CPU time the server's processes (its workers too) used so far."""
        return sum(_cpu_seconds(pid) for pid in _process_tree(self.pid))


def _process_tree(pid: int) -> list[int]:
    """`pid` and its descendants, from /proc (live processes only)."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with suppress(OSError):
                todo += [int(child) for child in task.read_text().split()]
    return tree


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def serve(
    cmd: list[str], port: int, ready_path: str, env: dict[str, str], log: Path
) -> Iterator[Server]:
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            cmd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd} exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(base + ready_path, timeout=1).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{cmd} not ready in 60 s")
            time.sleep(0.05)
        yield Server(base, "127.0.0.1", port, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# wrk -------------------------------------------------------------------------------

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


@dataclass
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    bad: int  # non-2xx/3xx answers plus socket errors
    # Server CPU per request: unlike req/s, hardly moved by other work on the machine.
    cpu_ms: float = float("nan")


def wrk(
    server: Server,
    path: str,
    seconds: int,
    connections: int,
    env: dict[str, str] | None = None,
) -> WrkResult:
    """GETs `path`; with `env` (the Lua script's settings), POSTs conversions to it."""
    url = server.base_url + path
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if env is not None:
        cmd += ["-s", str(BENCH / "conversions.lua")]
    cmd.append(url)
    cpu_before = server.cpu_seconds()
    out = subprocess.run(
        cmd, env={**os.environ, **(env or {})}, capture_output=True, text=True, check=True
    ).stdout
    cpu = server.cpu_seconds() - cpu_before

    def latency(pct: str) -> float:
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")

    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    for m in re.finditer(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    ):
        bad += sum(int(g) for g in m.groups())
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    return WrkResult(rps, latency("50"), latency("99"), bad, 1000 * cpu / max(requests, 1))


def alternating(
    measure_bare: Callable[[int], WrkResult],
    measure_collector: Callable[[int], WrkResult],
    seconds: int,
    rounds: int,
) -> tuple[WrkResult, WrkResult]:
    """Both sides measured in turns, `rounds` slices of `seconds / rounds` each: this
    machine's speed drifts by a quarter within a minute (other tenants), and a ratio
    taken from two runs ten seconds apart drifted with it. Requests/s is the mean over
    the slices (equal lengths), CPU per request the total over the requests, p50 and p99
    the worst slice's (p99s of slices cannot be merged exactly; the worst is the honest
    bound)."""
    slice_s = max(1, round(seconds / rounds))
    runs: tuple[list[WrkResult], list[WrkResult]] = ([], [])
    for _ in range(rounds):
        runs[0].append(measure_bare(slice_s))
        runs[1].append(measure_collector(slice_s))
    return _merged(runs[0]), _merged(runs[1])


def _merged(results: list[WrkResult]) -> WrkResult:
    requests = [r.requests_per_s for r in results]
    return WrkResult(
        statistics.fmean(requests),
        max(r.p50_ms for r in results),
        max(r.p99_ms for r in results),
        sum(r.bad for r in results),
        sum(r.cpu_ms * n for r, n in zip(results, requests, strict=True)) / max(sum(requests), 1),
    )


# Fixed-rate, open-loop load ---------------------------------------------------------


@dataclass
class FixedRateResult:
    sent: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    bad: int


async def _fixed_rate(
    host: str, port: int, request: Callable[[], bytes], rate: int, seconds: int, connections: int
) -> FixedRateResult:
    loop = asyncio.get_running_loop()
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection(host, port))
    latencies: list[float] = []
    bad = 0

    async def one(due: float) -> None:
        nonlocal bad
        reader, writer = await pool.get()
        writer.write(request())
        head = await reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
        if length is None:
            raise RuntimeError(f"no Content-Length in {head!r}")
        await reader.readexactly(int(length.group(1)))
        latencies.append(loop.time() - due)  # from when it was due, not when it was sent
        if not head.startswith((b"HTTP/1.1 2", b"HTTP/1.1 3")):
            bad += 1
        pool.put_nowait((reader, writer))

    start = loop.time() + 0.05
    tasks = []
    for i in range(rate * seconds):
        due = start + i / rate
        if (delay := due - loop.time()) > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait()[1].close()
    ms = sorted(x * 1000 for x in latencies)
    return FixedRateResult(len(ms), statistics.median(ms), ms[int(len(ms) * 0.99) - 1], ms[-1], bad)


def fixed_rate(
    server: Server, path: str, body: Callable[[], bytes], seconds: int, rate: int
) -> FixedRateResult:
    def request() -> bytes:
        payload = body()
        return (
            f"POST {path} HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        ).encode() + payload

    return uvloop.run(_fixed_rate(server.host, server.port, request, rate, seconds, 64))


# The run ----------------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} CPUs ({model}), {platform.python_implementation()} {platform.python_version()}"


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="per measurement")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument(
        "--rounds", type=int, default=5, help="turns each side takes within --seconds"
    )
    parser.add_argument("--rate", type=int, default=FIXED_RATE, help="req/s for the p99")
    parser.add_argument(
        "--workers",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="server workers, the same on both sides (default: the cores)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: `make bench` installs it (apt-get install wrk)")

    print(f"{time.strftime('%Y-%m-%d %H:%M %Z')} · {machine()} · {load()}")
    data = Path(tempfile.mkdtemp(prefix="convtrack-bench-"))
    uvicorn = ["--loop", "uvloop", "--http", "httptools", "--log-level", "warning"]
    try:
        c_port, b_port = free_port(), free_port()
        collector_env = {
            "CONVTRACK_DATA_DIR": str(data / "data"),
            "CONVTRACK_ADMIN_TOKEN": ADMIN_TOKEN,
            "CONVTRACK_RATE_LIMIT_PER_IP": "0",
        }
        workers = ["--workers", str(args.workers)]
        collector_cmd = [sys.executable, "-m", "convtrack.cli", "serve", "--port", str(c_port)]
        collector_cmd += workers
        bare_cmd = [sys.executable, "-m", "uvicorn", "--app-dir", str(BENCH), "bare_app:app"]
        bare_cmd += ["--port", str(b_port), *uvicorn, *workers]
        with (
            serve(collector_cmd, c_port, "/healthz", collector_env, data / "collector.log") as col,
            serve(bare_cmd, b_port, "/docs", {}, data / "bare.log") as bare,
        ):
            link = (
                httpx.post(
                    f"{col.base_url}/api/campaign-links",
                    json={"short_code": "bench", "destination_url": "https://example.com/land"},
                    headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                )
                .raise_for_status()
                .json()["campaign_link_id"]
            )
            lua = {"CT_LINK_ID": link}
            noop = {"CT_PATH": "/noop"}
            batch = {"CT_BATCH": str(BATCH_SIZE)}
            batch_path = {"CT_PATH": "/api/conversions/batch"}
            s, c = args.seconds, args.connections
            # Warm both up (imports, first-request paths) before anything is timed.
            wrk(col, "/api/conversions", 2, c, lua)
            wrk(bare, "/noop", 2, c, noop)
            r: dict[str, WrkResult] = {}
            pairs: dict[str, tuple[Callable[[int], WrkResult], Callable[[int], WrkResult]]] = {
                "conversions": (
                    lambda d: wrk(bare, "/noop", d, c, noop),
                    lambda d: wrk(col, "/api/conversions", d, c, lua),
                ),
                "redirects": (
                    lambda d: wrk(bare, "/redirect", d, c),
                    lambda d: wrk(col, "/c/bench", d, c),
                ),
                "batches": (
                    lambda d: wrk(bare, "/noop", d, c, {**noop, **batch}),
                    lambda d: wrk(
                        col,
                        "/api/conversions/batch",
                        d,
                        c,
                        {**lua, **batch_path, **batch},
                    ),
                ),
            }
            for name, (measure_bare, measure_collector) in pairs.items():
                r[f"bare {name}"], r[name] = alternating(
                    measure_bare, measure_collector, s, args.rounds
                )

            def body() -> bytes:
                return orjson.dumps(
                    {
                        "event_id": str(uuid.uuid4()),
                        "tracking_id": str(uuid.uuid4()),
                        "campaign_link_id": link,
                        "event_type": "purchase",
                        "revenue_amount": "19.99",
                    }
                )

            bare_fixed = fixed_rate(bare, "/noop", body, s, args.rate)
            fixed = fixed_rate(col, "/api/conversions", body, s, args.rate)
            # The same load while a worker turns a full log segment into Parquet, as it
            # does every minute or 32 MB under traffic: batches fill the open segments
            # for 3 s, then flushes one second into the window convert them.
            wrk(col, "/api/conversions/batch", 3, c, {**lua, **batch_path, **batch})
            flush = Flush(col, 2 * args.workers)
            timer = threading.Timer(1.0, flush.run)
            timer.start()
            converting = fixed_rate(col, "/api/conversions", body, s, args.rate)
            timer.join()
    finally:
        shutil.rmtree(data, ignore_errors=True)

    print(
        f"{args.workers} workers each side · wrk -t1 -c{args.connections}, "
        f"{args.rounds} turns of {max(1, round(args.seconds / args.rounds))} s each side · "
        f"fixed rate {args.rate} req/s open loop, 64 connections · {load()}"
    )
    for name, res in r.items():
        if res.bad:
            print(f"!! {name}: {res.bad} failed answers; its figure does not count")
    report(
        "durable conversions (1 per POST)",
        r["conversions"],
        r["bare conversions"],
        1,
        f">= {TARGET_CONVERSIONS_PER_S:,}/s and >= {TARGET_RATIO_TO_BARE}x bare",
        lambda value, ratio: value >= TARGET_CONVERSIONS_PER_S and ratio >= TARGET_RATIO_TO_BARE,
    )
    report(
        "redirects (click stored)",
        r["redirects"],
        r["bare redirects"],
        1,
        f">= {TARGET_REDIRECTS_PER_S:,}/s",
        lambda value, _: value >= TARGET_REDIRECTS_PER_S,
    )
    report(
        f"batch events ({BATCH_SIZE} per POST)",
        r["batches"],
        r["bare batches"],
        BATCH_SIZE,
        f">= {TARGET_BATCH_EVENTS_PER_S:,}/s",
        lambda value, _: value >= TARGET_BATCH_EVENTS_PER_S,
    )
    print(
        f"{f'p99 at {args.rate} conversions/s':<34} {fixed.p99_ms:>9.1f} ms "
        f"(bare {bare_fixed.p99_ms:.1f} ms; p50 {fixed.p50_ms:.1f} vs {bare_fixed.p50_ms:.1f}, "
        f"max {fixed.max_ms:.0f} vs {bare_fixed.max_ms:.0f}; failed {fixed.bad})"
        f"  target <= {TARGET_P99_MS} ms: {verdict(fixed.p99_ms <= TARGET_P99_MS and not fixed.bad)}"
    )
    flushed = all(status == 200 for status in flush.statuses)
    ok = converting.p99_ms <= TARGET_P99_MS and not converting.bad and flushed
    print(
        f"{'  ... while a segment converts':<34} {converting.p99_ms:>9.1f} ms "
        f"(p50 {converting.p50_ms:.1f}, max {converting.max_ms:.0f}; failed {converting.bad}; "
        f"{len(flush.statuses)} flushes answered {'200' if flushed else flush.statuses} "
        f"in up to {max(flush.seconds):.1f} s)"
        f"  target <= {TARGET_P99_MS} ms: {verdict(ok)}"
    )


class Flush:
    """`POST /api/admin/flush`, timed, `n` at once on their own connections (run from a
    timer thread): a flush concerns the worker that answers, and the kernel picks it, so
    asking as many times as twice the workers reaches each of them nearly always."""

    def __init__(self, server: Server, n: int) -> None:
        self.server = server
        self.n = n
        self.statuses: list[int] = []
        self.seconds: list[float] = []

    def run(self) -> None:
        threads = [threading.Thread(target=self._one) for _ in range(self.n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _one(self) -> None:
        start = time.monotonic()
        status = httpx.post(
            f"{self.server.base_url}/api/admin/flush",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=120,
        ).status_code
        self.seconds.append(time.monotonic() - start)
        self.statuses.append(status)


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def report(
    what: str,
    res: WrkResult,
    bare: WrkResult,
    per_request: int,
    target: str,
    met: Callable[[float, float], bool],
) -> None:
    """One figure, its ratio to the bare app, server CPU per request of each, the verdict."""
    value, base = res.requests_per_s * per_request, bare.requests_per_s * per_request
    print(
        f"{what:<34} {value:>9,.0f}/s  {value / base:4.2f}x bare ({base:,.0f}/s)  "
        f"p99 {res.p99_ms:.0f} ms  CPU {res.cpu_ms:.2f} vs {bare.cpu_ms:.2f} ms/request"
        f"  target {target}: {verdict(met(value, value / base) and not res.bad)}"
    )


if __name__ == "__main__":
    main()
