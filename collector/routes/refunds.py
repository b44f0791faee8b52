"""Refund intake from the merchant's back office: one refund, or a batch (docs/api.md#refunds;
the rules in docs/rules.md#refunds). Never from the tracker: the refund or admin token."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import uuid_utils
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from collector.body import (
    BatchAccepted,
    batch_events,
    batch_schema,
    parse_json_body,
    parse_object_body,
)
from collector.body_limit import json_request_body
from collector.clock import utc_now
from collector.deps import MetricsDep, RefunderDep, SettingsDep, StoreDep
from collector.errors import ApiError, error_responses
from collector.observability import Metrics
from collector.validation.problems import Problem
from collector.validation.rules import (
    MAX_BATCH_EVENTS,
    MAX_BODY_BYTES,
    MAX_BULK_BODY_BYTES,
    MAX_EVENT_TIME_AHEAD,
    MAX_ORDER_ID_CHARS,
    MAX_REFUND_REASON_CHARS,
)
from collector.validation.scalar import check_refund
from convtrack.core.raw_schema import FIRST_DAY
from convtrack.core.settings import Settings

router = APIRouter(prefix="/api/refunds", tags=["refunds"], dependencies=[RefunderDep])

_AHEAD_HOURS = f"{MAX_EVENT_TIME_AHEAD.total_seconds() / 3600:g}"


class RefundIn(BaseModel):
    """A refund as the back office reports it (documentation of the body; parsing is ours)."""

    order_id: str | int = Field(
        description=f"the refunded purchase's order_id, at most {MAX_ORDER_ID_CHARS} characters"
    )
    amount: Decimal | str = Field(
        description="the sum refunded: greater than 0, at most 2 decimals; a part of the "
        "order's revenue is a partial refund"
    )
    refunded_at: str | None = Field(
        None,
        description=(
            f"ISO-8601 date-time (UTC without an offset), from {FIRST_DAY}T00:00:00Z to "
            f"{_AHEAD_HOURS} hours ahead of the collector's clock; left out: the time it "
            "is received"
        ),
    )
    reason: str | None = Field(
        None, description=f"free text, at most {MAX_REFUND_REASON_CHARS} characters"
    )
    event_id: str | None = Field(None, description="UUID chosen by the client, for retries")
    currency: str | None = Field(None, description="must be the collector's currency")


class RefundAccepted(BaseModel):
    event_id: str
    status: str = "accepted"
    warnings: list[dict[str, Any]] = Field([], description="none yet: kept for the shape")


BATCH_SCHEMA = batch_schema(RefundIn.model_json_schema(), "refunds", "/api/refunds")


@dataclass(slots=True)
class CheckedRefund:
    """One refund of a request, checked: the raw row to store, or why it is refused."""

    row: dict[str, Any] | None
    problems: Sequence[Problem] = ()


def check_event(
    event: object, *, received_at: dt.datetime, settings: Settings, metrics: Metrics
) -> CheckedRefund:
    """Apply every rule to one refund; build its raw row, or count its refusal."""
    if not isinstance(event, dict):
        problem = Problem("invalid_body", None, "this refund is not a JSON object")
        metrics.count_rejected([problem])
        return CheckedRefund(row=None, problems=[problem])
    check = check_refund(event, currency=settings.currency, received_at=received_at)
    if check.problems:
        metrics.count_rejected(check.problems)
        return CheckedRefund(row=None, problems=check.problems)
    values = check.values
    return CheckedRefund(
        row={
            **values,
            # A client event_id is kept: a retried refund is the same refund downstream.
            "event_id": values["event_id"] or str(uuid_utils.uuid7()),
            "received_at": received_at,
            "source": "api",
        }
    )


@router.post(
    "",
    status_code=202,
    response_model=RefundAccepted,
    openapi_extra=json_request_body(RefundIn.model_json_schema(), limit=MAX_BODY_BYTES),
    responses=error_responses(401, 403, 413, 422, 503),
)
async def report_refund(
    request: Request, settings: SettingsDep, store: StoreDep, metrics: MetricsDep
) -> JSONResponse:
    """Validate one refund and answer 202 once it is durably stored.

    A retry with the same `event_id` gets the same 202 and the same event_id; the
    warehouse counts a refund once (the first received wins).
    """
    try:
        body = parse_object_body(await request.body())
    except ApiError as exc:
        raise exc.counted(metrics) from exc
    checked = check_event(body, received_at=utc_now(), settings=settings, metrics=metrics)
    if checked.row is None:
        raise ApiError(422, checked.problems)
    await store.append("refunds", [checked.row])
    metrics.count_accepted("refunds")
    return JSONResponse(
        {"event_id": checked.row["event_id"], "status": "accepted", "warnings": []},
        status_code=202,
    )


@router.post(
    "/batch",
    status_code=202,
    response_model=BatchAccepted,
    openapi_extra=json_request_body(BATCH_SCHEMA, limit=MAX_BULK_BODY_BYTES),
    responses=error_responses(401, 403, 413, 422, 503),
    description=(
        f'Body: `{{"events": [...]}}`, at most {MAX_BATCH_EVENTS} refunds and '
        f"{MAX_BULK_BODY_BYTES // 1024} KB. Each refund is validated as by `POST "
        "/api/refunds`; `results` holds one entry per refund in request order. The "
        "accepted refunds are durably stored (all in one write) before the 202, even when "
        "others are rejected. Client `event_id`s make a retried batch safe."
    ),
)
async def report_refund_batch(
    request: Request, settings: SettingsDep, store: StoreDep, metrics: MetricsDep
) -> JSONResponse:
    """Validate up to 500 refunds; store the good ones; answer per refund."""
    try:
        events = batch_events(parse_json_body(await request.body()), "refunds")
    except ApiError as exc:
        raise exc.counted(metrics) from exc
    received_at = utc_now()
    # Off the event loop: a refunded_at in an uncommon form is read by the importer's
    # parser (milliseconds each), and 500 of them would hold up every redirect meanwhile.
    checked_events = await run_in_threadpool(
        lambda: [
            check_event(event, received_at=received_at, settings=settings, metrics=metrics)
            for event in events
        ]
    )
    results: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for index, checked in enumerate(checked_events):
        if checked.row is None:
            errors = [p.as_dict() for p in checked.problems]
            results.append({"index": index, "status": "rejected", "errors": errors})
            continue
        rows.append(checked.row)
        results.append(
            {
                "index": index,
                "status": "accepted",
                "event_id": checked.row["event_id"],
                "warnings": [],
            }
        )
    await store.append("refunds", rows)
    metrics.count_accepted("refunds", len(rows))
    return JSONResponse(
        {"results": results, "accepted": len(rows), "rejected": len(events) - len(rows)},
        status_code=202,
    )
