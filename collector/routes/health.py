"""Health and metrics for the operator."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from collector.deps import MetricsDep, SettingsDep
from collector.observability import store_pending_events

router = APIRouter(tags=["health"])

# What the probe writes: one page. A full disk still creates empty files (inodes are
# left), so only a write that needs space tells that events could not be stored.
PROBE_BYTES = 4096


def directory_writable(directory: Path) -> bool:
    """Whether a page can be written to a new file in `directory`, made if missing."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".healthz-", buffering=0) as probe:
            probe.write(bytes(PROBE_BYTES))
    except OSError:
        return False
    return True


@router.get(
    "/healthz",
    responses={503: {"description": "the event log is not writable: events would be refused"}},
)
def healthz(request: Request, settings: SettingsDep) -> JSONResponse:
    """`ok`; `degraded` while log writes or conversions to Parquet fail; 503 if unwritable.

    `unconverted_segments` names the log segments whose events are acknowledged but not
    in Parquet yet because converting them failed, with the error and the next retry.
    """
    store = getattr(request.app.state, "store", None)
    # A store with its own log directory says so; otherwise the log lives under raw_dir.
    log_dir = getattr(store, "log_dir", None)
    writable = directory_writable(Path(log_dir or settings.raw_dir))
    status = store.status() if callable(getattr(store, "status", None)) else None
    if not writable:
        state = "unavailable"
    elif status is not None and status.degraded:
        state = "degraded"
    else:
        state = "ok"
    body: dict[str, Any] = {
        "status": state,
        "log_writable": writable,
        "pending_events": store_pending_events(request.app),
        "unconverted_segments": (
            [dataclasses.asdict(s) for s in status.unconverted] if status else []
        ),
        "last_error": status.last_error if status else None,
    }
    return JSONResponse(body, status_code=200 if writable else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def metrics(metrics: MetricsDep) -> Response:
    """Events accepted and rejected, request latency, events waiting in the log; with
    several workers, the sums over all of them, whichever answers."""
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
