"""Cleanup requests (admin token): ask Dagster for a prune run; never prune here.

The collector never writes the warehouse: it leaves a request file that the
`cleanup_requests` sensor turns into one prune run, queued behind any running writer.
"""

from __future__ import annotations

import datetime as dt
import json
import os

import uuid_utils
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from collector.deps import AdminDep, SettingsDep
from collector.errors import ApiError, error_responses
from collector.routes.conversions import parse_object_body
from collector.storage.files import fsync_dir
from collector.validation.problems import Problem

router = APIRouter(prefix="/api/conversions", tags=["admin"], dependencies=[AdminDep])


def _write_request(directory, request_id: str, body: dict) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{request_id}.tmp"
    with open(tmp, "w") as f:
        json.dump(body, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, directory / f"{request_id}.json")
    fsync_dir(directory)


@router.post("/cleanup", status_code=202, responses=error_responses(401, 403, 422))
async def request_cleanup(request: Request, settings: SettingsDep) -> dict[str, str | None]:
    """Queue a retention (prune) run as of `as_of` (default today); 202 with a request id."""
    raw = await request.body()
    body = parse_object_body(raw) if raw.strip() else {}
    as_of = body.get("as_of")
    if as_of is not None:
        try:
            as_of = dt.date.fromisoformat(str(as_of)).isoformat()
        except ValueError:
            raise ApiError(
                422, Problem("invalid_date", "as_of", "as_of must be a date like 2026-03-01")
            ) from None
    request_id = str(uuid_utils.uuid7())
    record = {
        "request_id": request_id,
        "as_of": as_of,
        "requested_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    await run_in_threadpool(_write_request, settings.cleanup_requests_dir, request_id, record)
    return {"request_id": request_id, "status": "queued", "as_of": as_of}
