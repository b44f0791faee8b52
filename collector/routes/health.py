"""Health and metrics for the operator."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from collector.deps import MetricsDep, SettingsDep
from collector.observability import store_pending_events

router = APIRouter(tags=["health"])


def directory_writable(directory: Path) -> bool:
    """Whether a file can be created (and removed) in `directory`, made if missing."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".healthz-"):
            pass
    except OSError:
        return False
    return True


@router.get(
    "/healthz",
    responses={503: {"description": "the event log is not writable: events would be refused"}},
)
def healthz(request: Request, settings: SettingsDep) -> JSONResponse:
    """`ok` while the process serves and can write its event log; 503 when it cannot."""
    # A store with its own log directory says so; otherwise the log lives under raw_dir.
    log_dir = getattr(getattr(request.app.state, "store", None), "log_dir", None)
    writable = directory_writable(Path(log_dir or settings.raw_dir))
    body: dict[str, Any] = {
        "status": "ok" if writable else "unavailable",
        "log_writable": writable,
        "pending_events": store_pending_events(request.app),
    }
    return JSONResponse(body, status_code=200 if writable else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def metrics(metrics: MetricsDep) -> Response:
    """Events accepted and rejected, request latency, events waiting in the log."""
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
