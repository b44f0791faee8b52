"""Metrics (Prometheus, one registry per app) and one JSON log line per request.

Under `convtrack serve --workers N` (N > 1) every worker counts into files of its own in
`PROMETHEUS_MULTIPROC_DIR`, and `GET /metrics`, whichever worker answers, reads them all:
counters and histograms add up over the workers, and the pending gauge is the sum over
the live ones (docs/operations.md#workers). A worker samples its own pending count every
`PENDING_SAMPLE_INTERVAL_S`, since no worker can ask another at scrape time.

Logs carry the route, status and duration, and the client's network (truncated like the
stored IPs), never a header, a query string or a full address: no token and no full IP
can reach them.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import orjson
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collector.privacy import truncate_ip
from collector.validation.problems import Problem
from convtrack.core.settings import METRICS_SHARED_DIR_ENV

ACCESS_LOGGER = "convtrack.access"
# Everything under a bad path shares one label, so scanners cannot grow the series.
UNMATCHED_ROUTE = "<unmatched>"
# How stale a worker's pending count in /metrics may be; a sample costs about 6 µs
# (measured on the 2-core development machine), twice a second.
PENDING_SAMPLE_INTERVAL_S = 0.5
_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+_(\d+)\.db")


def shared_metrics_dir() -> Path | None:
    """Where the workers of one `convtrack serve` share their metrics; None when this
    process serves alone (its own registry, as in tests with several apps)."""
    value = os.environ.get(METRICS_SHARED_DIR_ENV)
    return Path(value) if value else None


def prepare_multiprocess_metrics(base: Path) -> Path:
    """A new, empty folder under `base` for the metric files of this server's workers,
    named after this (the supervisor's) process: counts of an earlier run must not add
    to this one's, nor those of another server on the same data directory. Folders of
    servers that are gone are removed."""
    base.mkdir(parents=True, exist_ok=True)
    for folder in base.iterdir():
        if folder.name.isdigit() and not _alive(int(folder.name)):
            shutil.rmtree(folder, ignore_errors=True)
    directory = base / str(os.getpid())
    shutil.rmtree(directory, ignore_errors=True)  # an earlier process with our pid
    directory.mkdir()
    return directory


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def forget_dead_workers(directory: Path) -> None:
    """Drop the live gauges of workers that died without saying so (SIGKILL, a crash):
    uvicorn starts a replacement, whose count must not sit beside a ghost's."""
    for path in directory.glob("gauge_live*.db"):
        match = _LIVE_GAUGE_FILE.fullmatch(path.name)
        if match and not _alive(int(match[1])):
            mark_process_dead(int(match[1]), str(directory))


class Metrics:
    """The collector's Prometheus metrics, in a registry of their own (no global state)."""

    def __init__(
        self,
        pending_events: Callable[[], int] = lambda: 0,
        *,
        shared_dir: Path | None = None,
    ) -> None:
        self.shared_dir = shared_dir
        self._pending_events = pending_events
        self.registry = CollectorRegistry(auto_describe=True)
        self.accepted = Counter(
            "convtrack_events_accepted",
            "Events stored, by raw stream.",
            ["stream"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "convtrack_events_rejected",
            "Events or requests refused, by problem code (an event refused for two "
            "reasons counts under both).",
            ["code"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "convtrack_request_duration_seconds",
            "Request latency, by route template and method.",
            ["route", "method"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.pending = Gauge(
            "convtrack_log_pending_events",
            "Events accepted by the store but not yet rotated into Parquet.",
            # Summed over the workers alive (one process: its own value).
            multiprocess_mode="livesum",
            registry=self.registry,
        )
        if shared_dir is None:
            self.pending.set_function(pending_events)  # read at each scrape

    def sample_pending(self) -> None:
        """Write this worker's pending count where the other workers' scrapes read it."""
        self.pending.set(self._pending_events())

    async def sample_pending_forever(self) -> None:
        while True:
            self.sample_pending()
            await asyncio.sleep(PENDING_SAMPLE_INTERVAL_S)

    def exposition(self) -> bytes:
        """The Prometheus text of this app, or of every worker sharing `shared_dir`."""
        if self.shared_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self.shared_dir))
        return generate_latest(registry)

    def count_accepted(self, stream: str, n: int = 1) -> None:
        if n:
            self.accepted.labels(stream=stream).inc(n)

    def count_rejected(self, problems: Iterable[Problem | str]) -> None:
        for p in problems:
            self.rejected.labels(code=p if isinstance(p, str) else p.code).inc()


def store_pending_events(app: FastAPI) -> int:
    """Events waiting in the store's log, if the store can tell (0 otherwise)."""
    store = getattr(app.state, "store", None)
    pending = getattr(store, "pending_events", None)
    return int(pending()) if callable(pending) else 0


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or UNMATCHED_ROUTE


class RequestObservabilityMiddleware:
    """Times every request into the histogram and writes one JSON access log line."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.log = logging.getLogger(ACCESS_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" and self.metrics.shared_dir is not None:
            await self._lifespan(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the server answers if the app raises before starting a response

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - start
            route = route_template(scope)
            self.metrics.duration.labels(route=route, method=scope["method"]).observe(elapsed)
            if self.log.isEnabledFor(logging.INFO):
                self.log.info(self._line(scope, route, status, elapsed))

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A worker of several: sample its pending count while the app runs (the store
        exists from startup on), and leave the live gauges once it has stopped."""
        shared_dir = self.metrics.shared_dir
        assert shared_dir is not None
        sampler: asyncio.Task[None] | None = None

        async def send_and_sample(message: Message) -> None:
            nonlocal sampler
            if message["type"] == "lifespan.startup.complete":
                forget_dead_workers(shared_dir)
                sampler = asyncio.create_task(
                    self.metrics.sample_pending_forever(), name="pending-events-sampler"
                )
            elif message["type"].startswith("lifespan.shutdown") and sampler is not None:
                sampler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sampler
                sampler = None
                mark_process_dead(os.getpid(), str(shared_dir))
            await send(message)

        await self.app(scope, receive, send_and_sample)

    def _line(self, scope: Scope, route: str, status: int, elapsed: float) -> str:
        client = scope.get("client")
        return orjson.dumps(
            {
                "event": "request",
                "method": scope["method"],
                "route": route,
                "path": scope["path"] if route != UNMATCHED_ROUTE else None,
                "status": status,
                "duration_ms": round(elapsed * 1000, 3),
                # Even with STORE_FULL_IP, logs keep only the network.
                "client_network": truncate_ip(client[0] if client else None, store_full_ip=False),
            }
        ).decode()


def install_observability(app: FastAPI) -> None:
    """Per-app metrics on `app.state.metrics`, and the outermost timing/logging middleware."""
    metrics = Metrics(
        pending_events=lambda: store_pending_events(app), shared_dir=shared_metrics_dir()
    )
    app.state.metrics = metrics
    app.add_middleware(RequestObservabilityMiddleware, metrics=metrics)


def access_log_config() -> dict:
    """uvicorn's logging config plus our JSON access lines on stderr (`convtrack serve`)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["json_line"] = {"format": "%(message)s"}
    config["handlers"]["convtrack_access"] = {
        "class": "logging.StreamHandler",
        "formatter": "json_line",
        "stream": "ext://sys.stderr",
    }
    config["loggers"][ACCESS_LOGGER] = {
        "handlers": ["convtrack_access"],
        "level": "INFO",
        "propagate": False,
    }
    return config
