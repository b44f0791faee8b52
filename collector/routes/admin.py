"""Admin operations: historical imports (admin token)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from collector.body import parse_object_body
from collector.body_limit import json_request_body
from collector.deps import AdminDep, LinksDep, MetricsDep, SettingsDep, StoreDep
from collector.errors import ApiError, error_responses
from collector.ingest.importer import IMPORTABLE, import_rows
from collector.storage import RawEventStore, StoreUnavailable
from collector.validation.problems import Problem
from collector.validation.rules import MAX_BULK_BODY_BYTES, MAX_EVENT_TIME_AHEAD
from convtrack.core.raw_schema import FIRST_DAY
from convtrack.core.settings import Settings

router = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[AdminDep])


@router.post(
    "/import",
    responses=error_responses(401, 403, 413, 422, 503),
    openapi_extra=json_request_body(
        {
            "type": "object",
            "properties": {s: {"type": "array", "items": {"type": "object"}} for s in IMPORTABLE},
        },
        limit=MAX_BULK_BODY_BYTES,
        description=(
            "Rows of clicks, conversions and refunds, each checked as by its own endpoint. "
            f"Each row's clicked_at / converted_at / refunded_at (optional for a refund: "
            f"the time it is received) lies between {FIRST_DAY}T00:00:00Z and "
            f"{MAX_EVENT_TIME_AHEAD.total_seconds() / 3600:g} hours ahead of the collector's "
            "clock, else that row is refused (event_time_out_of_range) and the others kept."
        ),
    ),
)
async def import_events(
    request: Request,
    settings: SettingsDep,
    store: StoreDep,
    links: LinksDep,
    metrics: MetricsDep,
) -> dict[str, Any]:
    """Import historical clicks, conversions and refunds with their own times; per-event
    results."""
    raw = await request.body()
    await links.refresh()
    # Parsing up to a megabyte of JSON, validating and writing Parquet is CPU and disk
    # work: all of it runs off the event loop, so redirects are answered meanwhile.
    answer, problem_codes = await run_in_threadpool(
        _import_body,
        raw,
        settings=settings,
        link_ids=links.ids(),
        store=store,
        link_windows=links.own_windows(),
    )
    for stream, accepted in answer["accepted"].items():
        metrics.count_accepted(stream, accepted)
    metrics.count_rejected(problem_codes)
    return answer


def _import_body(
    raw: bytes,
    *,
    settings: Settings,
    link_ids: Iterable[str],
    store: RawEventStore,
    link_windows: Mapping[str, int],
) -> tuple[dict[str, dict], list[str]]:
    """The answer to an import body, and the code of every problem (for the metrics)."""
    body = parse_object_body(raw)
    batches = {}
    for stream in IMPORTABLE:
        rows = body.get(stream, [])
        if not isinstance(rows, list):
            raise ApiError(
                422, Problem("invalid_body", stream, f"{stream} must be a list of event objects")
            )
        batches[stream] = rows
    if unknown := sorted(set(body) - set(IMPORTABLE)):
        raise ApiError(
            422,
            Problem(
                "invalid_body",
                unknown[0],
                f"unknown key {unknown[0]!r}: the body holds "
                + ", ".join(repr(s) for s in IMPORTABLE),
            ),
        )
    answer: dict[str, dict] = {"accepted": {}, "rejected": {}, "results": {}}
    codes: list[str] = []
    for stream, rows in batches.items():
        result = import_rows(
            rows,
            stream,
            settings=settings,
            link_ids=link_ids,
            store=store,
            link_windows=link_windows,
        )
        answer["accepted"][stream] = result.accepted
        answer["rejected"][stream] = result.rejected
        answer["results"][stream] = result.results()
        codes += (p.code for p in result.problems)
    return answer, codes


@router.post("/flush", responses=error_responses(401, 403, 503))
async def flush_log(store: StoreDep) -> dict[str, str]:
    """Turn every acknowledged event into Parquet now (before a pipeline run, say).

    503 when some could not be (a full disk, say): the message names the log segments
    and how many events wait in them, safe, for the automatic retry.
    """
    try:
        await store.flush()
    except StoreUnavailable as exc:
        raise ApiError(
            503, Problem("storage_unavailable", None, str(exc)), {"Retry-After": "5"}
        ) from exc
    return {"status": "flushed"}
