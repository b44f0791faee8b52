"""Conversion intake from the landing page's tracker (SPEC §3.2, §4.1)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import uuid_utils
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from collector.clock import utc_now
from collector.deps import LinksDep, SettingsDep, StoreDep
from collector.errors import ApiError
from collector.jsontext import parse_json
from collector.validation.problems import Problem
from collector.validation.scalar import check_conversion

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
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ConversionIn.model_json_schema()}},
        }
    },
    responses={422: {"description": "refused: detail carries code, field and message"}},
)
async def report_conversion(
    request: Request, settings: SettingsDep, store: StoreDep, links: LinksDep
) -> JSONResponse:
    """Validate one conversion and answer 202 once it is durably stored."""
    # Parsed by hand: numbers must keep their decimal text, and any content type is
    # accepted because navigator.sendBeacon posts text/plain.
    body = parse_object_body(await request.body())
    now = utc_now()
    check = check_conversion(
        body,
        link_ids=links,
        currency=settings.currency,
        window_days=settings.attribution_window_days,
        event_time=now,
    )
    if check.problems:
        raise ApiError(422, check.problems)
    row = {
        **check.values,
        "event_id": check.values["event_id"] or str(uuid_utils.uuid7()),
        "converted_at": now,
        "received_at": now,
        "source": "api",
    }
    await store.append("conversions", [row])
    return JSONResponse(
        {
            "event_id": row["event_id"],
            "status": "accepted",
            "warnings": [w.as_dict() for w in check.warnings],
        },
        status_code=202,
    )
