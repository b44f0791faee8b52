"""The collector's FastAPI application (uvicorn: `collector.app:create_app`, factory=True)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from collector.body_limit import install_body_limits
from collector.cors import install_cors
from collector.errors import install_error_handlers
from collector.hot import install_hot_paths
from collector.links import LinkRegistry
from collector.observability import install_observability
from collector.proxy import install_proxy_headers
from collector.rate_limit import install_rate_limit
from collector.read.snapshot import SnapshotReader
from collector.routes import (
    admin,
    campaign_links,
    cleanup,
    conversions,
    health,
    read,
    redirect,
    refunds,
    report,
    tracker,
)
from collector.storage import LogRawEventStore
from convtrack.core.settings import Settings


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    store = LogRawEventStore(
        settings.raw_dir,
        max_segment_bytes=settings.log_segment_max_bytes,
        max_segment_age_s=settings.log_segment_max_age_s,
    )
    await store.start()
    app.state.store = store
    app.state.links = LinkRegistry(settings.raw_dir, store)
    await app.state.links.refresh()
    app.state.snapshot = SnapshotReader(settings.published_path)
    try:
        yield
    finally:
        # Flush what is pending before the process goes: it was not acknowledged yet.
        await store.close()
        app.state.snapshot.close()


def create_app(settings: Settings | None = None, *, hot_paths: bool = True) -> FastAPI:
    """Build the collector; settings are read from the environment when not given.

    `hot_paths=False` leaves the hot public paths to FastAPI's router like every other
    (collector/hot.py): the tests compare the two.
    """
    app = FastAPI(
        title="convtrack collector",
        summary="Campaign link redirects, conversion and refund intake, and the read API.",
        lifespan=lifespan,
        # The router's slash redirect builds its Location from the request's Host header;
        # a path with a trailing slash is a 404 that says so instead.
        redirect_slashes=False,
        # Metrics and logs are the collector's own (docs/api.md#get-healthz-get-metrics);
        # FastAPI's OpenTelemetry hooks would look for providers on every request.
        telemetry={"tracing": False, "metrics": False},
    )
    app.state.settings = settings if settings is not None else Settings()
    install_error_handlers(app)
    install_rate_limit(app)
    # Middleware added later wraps what came before: the hot paths run inside every
    # layer, timing and logs see every answer, and a 413 still carries the CORS headers
    # a browser needs to read it.
    if hot_paths:
        install_hot_paths(app)
    install_body_limits(app)
    install_cors(app)
    install_observability(app)
    install_proxy_headers(app)
    for module in (
        health,
        tracker,
        redirect,
        conversions,
        refunds,
        cleanup,
        campaign_links,
        admin,
        read,
        report,
    ):
        app.include_router(module.router)
    return app
