"""The collector's CPU per request, in-process: where `make bench`'s time goes, without HTTP.

Not a test. Builds the real app (`collector.app:create_app`, the append log with group
commit on a fresh data directory, rate limit on with a bucket no run empties) and the bare
app (`bench/bare_app.py`), and calls each directly as ASGI, 32 requests in flight at a
time, on uvloop: no sockets, no HTTP parser, so what is left is the app's own work. Prints
the CPU microseconds per request of each hot path beside the bare app's.

    .venv/bin/python bench/collector_inprocess.py [--requests 20000] [--profile conversions]

`--profile PATH` runs that path again under cProfile and prints the 25 costliest functions
by their own time (the profile behind the figures in bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson
import uvloop

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
IN_FLIGHT = 32
BATCH_SIZE = 100

Request = tuple[str, str, bytes, list[tuple[bytes, bytes]]]


def conversion(link_id: str) -> dict:
    return {
        "tracking_id": str(uuid.uuid4()),
        "campaign_link_id": link_id,
        "event_type": "purchase",
        "revenue_amount": "19.99",
        "event_id": str(uuid.uuid4()),
        "order_id": uuid.uuid4().hex,
    }


def requests_for(path: str, link_id: str, n: int) -> list[Request]:
    json = [(b"content-type", b"application/json"), (b"user-agent", b"bench/1.0")]
    if path == "conversions":
        bodies = [orjson.dumps(conversion(link_id)) for _ in range(n)]
        return [("POST", "/api/conversions", b, json) for b in bodies]
    if path == "batch":
        n = max(1, n // BATCH_SIZE)
        bodies = [
            orjson.dumps({"events": [conversion(link_id) for _ in range(BATCH_SIZE)]})
            for _ in range(n)
        ]
        return [("POST", "/api/conversions/batch", b, json) for b in bodies]
    return [("GET", "/c/bench", b"", json)] * n


def bare_requests(path: str, n: int) -> list[Request]:
    json = [(b"content-type", b"application/json")]
    if path == "redirect":
        return [("GET", "/redirect", b"", json)] * n
    body = orjson.dumps(conversion("x"))
    if path == "batch":
        n = max(1, n // BATCH_SIZE)
        body = orjson.dumps({"events": [conversion("x") for _ in range(BATCH_SIZE)]})
    return [("POST", "/noop", body, json)] * n


async def call(app, method: str, path: str, body: bytes, headers: list) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent = False
    status = 0

    async def receive() -> dict:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def drive(app, reqs: list[Request]) -> tuple[float, dict[int, int]]:
    """CPU seconds (process, all threads) for `reqs`, IN_FLIGHT at a time; answers by status."""
    statuses: dict[int, int] = {}
    queue = iter(reqs)

    async def worker() -> None:
        for method, path, body, headers in queue:
            status = await call(app, method, path, body, headers)
            statuses[status] = statuses.get(status, 0) + 1

    start = time.process_time()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return time.process_time() - start, statuses


async def with_lifespan(app, body: Callable) -> object:
    async with app.router.lifespan_context(app):
        return await body()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--profile", choices=["conversions", "batch", "redirect"])
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="convtrack-inprocess-"))
    os.environ.update(
        CONVTRACK_DATA_DIR=str(data),
        CONVTRACK_ADMIN_TOKEN="bench-admin",
        CONVTRACK_RATE_LIMIT_PER_IP="1000000",
        CONVTRACK_RATE_LIMIT_BURST="1000000",
    )
    from bench.bare_app import app as bare
    from collector.app import create_app

    app = create_app()

    async def run() -> dict[str, tuple[float, float, dict]]:
        link = await app.state.links.create(
            short_code="bench", destination_url="https://example.com/land", campaign_name="b"
        )
        results = {}
        for path in ("conversions", "batch", "redirect"):
            ours = requests_for(path, link.campaign_link_id, args.requests)
            theirs = bare_requests(path, args.requests)
            await drive(app, ours[:500])  # warm both
            await drive(bare, theirs[:500])
            cpu, statuses = await drive(app, ours)
            bare_cpu, _ = await drive(bare, theirs)
            results[path] = (cpu / len(ours) * 1e6, bare_cpu / len(theirs) * 1e6, statuses)
        if args.profile:
            reqs = requests_for(args.profile, link.campaign_link_id, args.requests)
            profiler = cProfile.Profile()
            profiler.enable()
            await drive(app, reqs)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return results

    results = uvloop.run(with_lifespan(app, run))
    print(f"CPU per request, in-process ASGI, {IN_FLIGHT} in flight, {args.requests} requests")
    for path, (ours, bare_us, statuses) in results.items():
        unit = f"per POST of {BATCH_SIZE}" if path == "batch" else "per request"
        print(
            f"  {path:12} collector {ours:8.1f} µs  bare {bare_us:7.1f} µs  "
            f"ratio {bare_us / ours:4.2f}x  ({unit}; answers {statuses})"
        )


if __name__ == "__main__":
    main()
