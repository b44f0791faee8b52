"""Conversion intake from the landing page's tracker (SPEC §3.2, §4.1)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import uuid_utils
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from collector.clock import utc_now
from collector.deps import LinksDep, MetricsDep, RateLimitDep, SettingsDep, StoreDep
from collector.errors import ApiError, error_responses
from collector.jsontext import parse_json
from collector.validation.problems import Problem
from collector.validation.rules import MAX_BATCH_EVENTS, MAX_BODY_BYTES, MAX_BULK_BODY_BYTES
from collector.validation.scalar import ConversionCheck, check_conversion

router = APIRouter(prefix="/api/conversions", tags=["conversions"])


class ConversionIn(BaseModel):
    """A conversion as the tracker reports it (documentation of the body; parsing is ours)."""

    tracking_id: str = Field(description="ct_tracking_id from the landing page URL (UUID)")
    campaign_link_id: str = Field(description="ct_campaign_link_id from the URL (UUID)")
    event_type: str = Field(description="newsletter_signup | course_enrollment | purchase")
    revenue_amount: Decimal | str | None = Field(None, description="at most 2 decimals")
    event_data: dict[str, Any] | None = Field(None, description="JSON object, at most 8 KB")
    event_id: str | None = Field(None, description="UUID chosen by the client, for retries")
    order_id: str | None = Field(None, description="a purchase is counted once per order")
    currency: str | None = Field(None, description="must be the collector's currency")


class ConversionAccepted(BaseModel):
    event_id: str
    status: str = "accepted"
    warnings: list[dict[str, Any]] = []


# Written out rather than generated from a model: pydantic would put ConversionIn under
# `$defs`, which OpenAPI tools cannot resolve inside a requestBody.
BATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["events"],
    "properties": {
        "events": {
            "type": "array",
            "maxItems": MAX_BATCH_EVENTS,
            "items": ConversionIn.model_json_schema(),
            "description": f"up to {MAX_BATCH_EVENTS} conversions, as for POST /api/conversions",
        }
    },
}


class BatchResult(BaseModel):
    index: int = Field(description="position of the event in `events`, from 0")
    status: str = Field(description="accepted | rejected")
    event_id: str | None = None
    warnings: list[dict[str, Any]] | None = None
    errors: list[dict[str, Any]] | None = None


class BatchAccepted(BaseModel):
    results: list[BatchResult]
    accepted: int
    rejected: int


def _request_body(schema: dict[str, Any], limit: int) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": f"JSON, at most {limit // 1024} KB (larger bodies: 413)",
            "content": {"application/json": {"schema": schema}},
        }
    }


def _row(check: ConversionCheck, now) -> dict[str, Any]:
    """The raw row of an accepted conversion; a client event_id is kept for idempotency."""
    return {
        **check.values,
        "event_id": check.values["event_id"] or str(uuid_utils.uuid7()),
        "converted_at": now,
        "received_at": now,
        "source": "api",
    }


def parse_object_body(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a 422 that says what is wrong with it."""
    try:
        body = parse_json(raw)
    except (ValueError, RecursionError) as exc:
        raise ApiError(
            422, Problem("invalid_body", None, f"the request body is not valid JSON ({exc})")
        ) from exc
    if not isinstance(body, dict):
        raise ApiError(
            422,
            Problem("invalid_body", None, "the request body must be a JSON object {...}"),
        )
    return body


@router.post(
    "",
    status_code=202,
    response_model=ConversionAccepted,
    openapi_extra=_request_body(ConversionIn.model_json_schema(), MAX_BODY_BYTES),
    responses=error_responses(413, 422, 429, 503),
    dependencies=[RateLimitDep],
)
async def report_conversion(
    request: Request,
    settings: SettingsDep,
    store: StoreDep,
    links: LinksDep,
    metrics: MetricsDep,
) -> JSONResponse:
    """Validate one conversion and answer 202 once it is durably stored.

    A retry with the same `event_id` gets the same 202 and the same event_id; duplicates
    are counted once downstream (the first received wins).
    """
    # Parsed by hand: numbers must keep their decimal text, and any content type is
    # accepted because navigator.sendBeacon posts text/plain.
    body = parse_body(await request.body(), metrics)
    if not isinstance(body, dict):
        raise _refused(metrics, "the request body must be a JSON object {...}")
    now = utc_now()
    check = check_conversion(
        body,
        link_ids=links,
        currency=settings.currency,
        window_days=settings.attribution_window_days,
        event_time=now,
    )
    if check.problems:
        metrics.count_rejected(check.problems)
        raise ApiError(422, check.problems)
    row = _row(check, now)
    await store.append("conversions", [row])
    metrics.count_accepted("conversions")
    return JSONResponse(
        {
            "event_id": row["event_id"],
            "status": "accepted",
            "warnings": [w.as_dict() for w in check.warnings],
        },
        status_code=202,
    )


@router.post(
    "/batch",
    status_code=202,
    response_model=BatchAccepted,
    openapi_extra=_request_body(BATCH_SCHEMA, MAX_BULK_BODY_BYTES),
    responses=error_responses(413, 422, 429, 503),
    dependencies=[RateLimitDep],
    description=(
        f'Body: `{{"events": [...]}}`, at most {MAX_BATCH_EVENTS} conversions and '
        f"{MAX_BULK_BODY_BYTES // 1024} KB (the single-event endpoint allows "
        f"{MAX_BODY_BYTES // 1024} KB). Each event is validated as by `POST /api/conversions`; "
        "`results` holds one entry per event in request order. The accepted events are "
        "durably stored (all in one write) before the 202, even when others are rejected. "
        "Client `event_id`s make a retried batch safe: the same ids come back, and "
        "duplicates are counted once downstream."
    ),
)
async def report_conversion_batch(
    request: Request,
    settings: SettingsDep,
    store: StoreDep,
    links: LinksDep,
    metrics: MetricsDep,
) -> JSONResponse:
    """Validate up to 500 conversions; store the good ones; answer per event."""
    body = parse_body(await request.body(), metrics)
    events = body.get("events") if isinstance(body, dict) else None
    if not isinstance(events, list):
        raise _refused(metrics, 'the body must be {"events": [ ...conversions... ]}', "events")
    if len(events) > MAX_BATCH_EVENTS:
        problem = Problem(
            "too_many_events",
            "events",
            f"a batch holds at most {MAX_BATCH_EVENTS} events, this one {len(events)}; split it",
        )
        metrics.count_rejected([problem])
        raise ApiError(422, problem)
    now = utc_now()
    # The scalar checker: measured ~2x faster than the Polars one at 500 rows.
    results: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            problems = [Problem("invalid_body", None, "this event is not a JSON object")]
            check = ConversionCheck(problems=problems)
        else:
            check = check_conversion(
                event,
                link_ids=links,
                currency=settings.currency,
                window_days=settings.attribution_window_days,
                event_time=now,
            )
        if check.problems:
            metrics.count_rejected(check.problems)
            results.append(
                {
                    "index": index,
                    "status": "rejected",
                    "errors": [p.as_dict() for p in check.problems],
                }
            )
            continue
        row = _row(check, now)
        rows.append(row)
        results.append(
            {
                "index": index,
                "status": "accepted",
                "event_id": row["event_id"],
                "warnings": [w.as_dict() for w in check.warnings],
            }
        )
    await store.append("conversions", rows)
    metrics.count_accepted("conversions", len(rows))
    return JSONResponse(
        {"results": results, "accepted": len(rows), "rejected": len(events) - len(rows)},
        status_code=202,
    )


def parse_body(raw: bytes, metrics: MetricsDep) -> Any:
    try:
        return parse_json(raw)
    except (ValueError, RecursionError) as exc:
        raise _refused(metrics, f"the request body is not valid JSON ({exc})") from exc


def _refused(metrics: MetricsDep, message: str, field: str | None = None) -> ApiError:
    problem = Problem("invalid_body", field, message)
    metrics.count_rejected([problem])
    return ApiError(422, problem)
