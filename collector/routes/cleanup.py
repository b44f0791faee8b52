"""Cleanup requests (admin token): ask Dagster for a prune run; never prune here.

The collector never writes the warehouse: it leaves a request file that the
`cleanup_requests` sensor turns into one prune run, queued behind any running writer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re

import uuid_utils
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from collector.body import parse_object_body
from collector.deps import AdminDep, SettingsDep
from collector.errors import ApiError, error_responses
from collector.validation.problems import Problem
from convtrack.core.files import fsync_dir
from convtrack.core.raw_schema import FIRST_DAY

router = APIRouter(prefix="/api/conversions", tags=["admin"], dependencies=[AdminDep])

_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _write_request(directory, request_id: str, body: dict) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{request_id}.tmp"
    with open(tmp, "w") as f:
        json.dump(body, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, directory / f"{request_id}.json")
    fsync_dir(directory)


def _as_of(value: object) -> dt.date:
    """The day a prune is asked for: a YYYY-MM-DD date from the first day to today (UTC)."""
    day = None
    if isinstance(value, str) and _DATE_RE.fullmatch(value):
        with contextlib.suppress(ValueError):  # 2026-02-30 and the like
            day = dt.date.fromisoformat(value)
    if day is None:
        raise ApiError(
            422, Problem("invalid_date", "as_of", "as_of must be a date like 2026-03-01")
        )
    today = dt.datetime.now(dt.UTC).date()
    if not FIRST_DAY <= day <= today:
        # A prune as of a later day would remove rows that retention still keeps.
        raise ApiError(
            422,
            Problem(
                "date_out_of_range",
                "as_of",
                f"as_of must be between {FIRST_DAY} and today, {today} (UTC); it was {day}",
            ),
        )
    return day


@router.post("/cleanup", status_code=202, responses=error_responses(401, 403, 422))
async def request_cleanup(request: Request, settings: SettingsDep) -> dict[str, str | None]:
    """Queue a retention (prune) run as of `as_of` (default today); 202 with a request id."""
    raw = await request.body()
    body = parse_object_body(raw) if raw.strip() else {}
    as_of = body.get("as_of")
    if as_of is not None:
        as_of = _as_of(as_of).isoformat()
    request_id = str(uuid_utils.uuid7())
    record = {
        "request_id": request_id,
        "as_of": as_of,
        "requested_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    await run_in_threadpool(_write_request, settings.cleanup_requests_dir, request_id, record)
    return {"request_id": request_id, "status": "queued", "as_of": as_of}
