"""Conversion intake from the landing page's tracker: one event, or a batch (docs/api.md;
the rules in docs/rules.md#validation)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import uuid_utils
from fastapi import APIRouter, Request
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
from collector.deps import LinksDep, MetricsDep, RateLimitDep, SettingsDep, StoreDep
from collector.errors import ApiError, error_responses
from collector.jsontext import FastJSONResponse
from collector.links import LinkRegistry
from collector.observability import Metrics
from collector.validation.problems import Problem
from collector.validation.rules import (
    MAX_BATCH_EVENTS,
    MAX_BODY_BYTES,
    MAX_BULK_BODY_BYTES,
    MAX_TOUCHES,
)
from collector.validation.scalar import ConversionCheck, check_conversion
from convtrack.core.settings import Settings

router = APIRouter(prefix="/api/conversions", tags=["conversions"])


# Written out, not a nested model: pydantic would put it under `$defs` (see BATCH_SCHEMA).
TOUCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["tracking_id", "campaign_link_id"],
    "properties": {
        "tracking_id": {"type": "string", "description": "ct_tracking_id of that click (UUID)"},
        "campaign_link_id": {"type": "string", "description": "its ct_campaign_link_id (UUID)"},
    },
}


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
    touches: list[dict[str, str]] | None = Field(
        None,
        max_length=MAX_TOUCHES,
        json_schema_extra=lambda schema: schema["anyOf"][0].update(items=TOUCH_SCHEMA),
        description=(
            f"campaign clicks seen before, oldest first, this conversion's own ids last; "
            f"at most {MAX_TOUCHES}"
        ),
    )


class ConversionAccepted(BaseModel):
    event_id: str
    status: str = "accepted"
    warnings: list[dict[str, Any]] = []


BATCH_SCHEMA = batch_schema(ConversionIn.model_json_schema(), "conversions", "/api/conversions")


@dataclass(slots=True)
class CheckedConversion:
    """One conversion of a request, checked: the raw row to store, or why it is refused."""

    row: dict[str, Any] | None
    problems: Sequence[Problem] = ()
    warnings: Sequence[Problem] = ()


async def check_event(
    event: object,
    *,
    received_at: dt.datetime,
    settings: Settings,
    links: LinkRegistry,
    metrics: Metrics,
) -> CheckedConversion:
    """Apply every rule to one conversion; build its raw row, or count its refusal.

    A campaign link this collector does not know yet is looked for on disk once more
    (throttled, off the event loop): another process may have registered it a moment ago.
    """
    if not isinstance(event, dict):
        problem = Problem("invalid_body", None, "this event is not a JSON object")
        metrics.count_rejected([problem])
        return CheckedConversion(row=None, problems=[problem])

    rule_inputs = {
        "link_ids": links,
        "currency": settings.currency,
        "window_days": settings.attribution_window_days,
        "event_time": received_at,
        "link_windows": links.own_windows(),
    }
    check = check_conversion(event, **rule_inputs)
    if check.problems and _names_unknown_link(check) and await links.refresh_after_miss():
        check = check_conversion(event, **rule_inputs | {"link_windows": links.own_windows()})
    if check.problems:
        metrics.count_rejected(check.problems)
        return CheckedConversion(row=None, problems=check.problems)
    return CheckedConversion(row=_row(check, received_at), warnings=check.warnings)


def _names_unknown_link(check: ConversionCheck) -> bool:
    return any(p.code == "unknown_campaign_link" for p in check.problems)


def _row(check: ConversionCheck, received_at: dt.datetime) -> dict[str, Any]:
    """The raw row of an accepted conversion; a client event_id is kept for idempotency."""
    return {
        **check.values,
        "event_id": check.values["event_id"] or str(uuid_utils.uuid7()),
        "converted_at": received_at,
        "received_at": received_at,
        "source": "api",
    }


@router.post(
    "",
    status_code=202,
    response_model=ConversionAccepted,
    openapi_extra=json_request_body(ConversionIn.model_json_schema(), limit=MAX_BODY_BYTES),
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
    try:
        body = parse_object_body(await request.body())
    except ApiError as exc:
        raise exc.counted(metrics) from exc
    checked = await check_event(
        body, received_at=utc_now(), settings=settings, links=links, metrics=metrics
    )
    if checked.row is None:
        raise ApiError(422, checked.problems)
    await store.append("conversions", [checked.row])
    metrics.count_accepted("conversions")
    return FastJSONResponse(
        {
            "event_id": checked.row["event_id"],
            "status": "accepted",
            "warnings": [w.as_dict() for w in checked.warnings],
        },
        status_code=202,
    )


@router.post(
    "/batch",
    status_code=202,
    response_model=BatchAccepted,
    openapi_extra=json_request_body(BATCH_SCHEMA, limit=MAX_BULK_BODY_BYTES),
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
    try:
        events = batch_events(parse_json_body(await request.body()), "conversions")
    except ApiError as exc:
        raise exc.counted(metrics) from exc
    received_at = utc_now()
    # The scalar checker: measured ~2x faster than the Polars one at 500 rows.
    results: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for index, event in enumerate(events):
        checked = await check_event(
            event, received_at=received_at, settings=settings, links=links, metrics=metrics
        )
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
                "warnings": [w.as_dict() for w in checked.warnings],
            }
        )
    await store.append("conversions", rows)
    metrics.count_accepted("conversions", len(rows))
    return FastJSONResponse(
        {"results": results, "accepted": len(rows), "rejected": len(events) - len(rows)},
        status_code=202,
    )
