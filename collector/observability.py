"""Metrics (Prometheus, one registry per app) and one JSON log line per request.

Logs carry the route, status and duration, and the client's network (truncated like the
stored IPs), never a header, a query string or a full address: no token and no full IP
can reach them.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Iterable

import orjson
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collector.privacy import truncate_ip
from collector.validation.problems import Problem

ACCESS_LOGGER = "convtrack.access"
# Everything under a bad path shares one label, so scanners cannot grow the series.
UNMATCHED_ROUTE = "<unmatched>"


class Metrics:
    """The collector's Prometheus metrics, in a registry of their own (no global state)."""

    def __init__(self, pending_events=lambda: 0) -> None:
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
            registry=self.registry,
        )
        self.pending.set_function(pending_events)

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
    metrics = Metrics(pending_events=lambda: store_pending_events(app))
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
