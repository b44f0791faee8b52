"""Request bodies read as JSON by the endpoints themselves, with one kind of refusal.

Parsed by hand rather than by FastAPI: numbers keep their decimal text (1.005 stays
1.005), and any content type is accepted because `navigator.sendBeacon` posts text/plain.
Every refusal is a 422 `invalid_body` (docs/api.md#errors).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from collector.errors import ApiError
from collector.jsontext import parse_json
from collector.validation.problems import Problem
from collector.validation.rules import MAX_BATCH_EVENTS


def invalid_body(message: str, field: str | None = None) -> ApiError:
    """A 422 `invalid_body` saying what is wrong with the body."""
    return ApiError(422, Problem("invalid_body", field, message))


def parse_json_body(raw: bytes) -> Any:
    """The body's JSON value (non-integers as Decimal), or a 422 that says why not."""
    try:
        return parse_json(raw)
    except (ValueError, RecursionError) as exc:
        raise invalid_body(f"the request body is not valid JSON ({exc})") from exc


def parse_object_body(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object `{...}`, or a 422 that says why not."""
    body = parse_json_body(raw)
    if not isinstance(body, dict):
        raise invalid_body("the request body must be a JSON object {...}")
    return body


def batch_events(body: Any, noun: str) -> list[Any]:
    """The `events` of a batch body (`noun`: what they are), or a 422 that says what is
    wrong with the body."""
    events = body.get("events") if isinstance(body, dict) else None
    if not isinstance(events, list):
        raise invalid_body(f'the body must be {{"events": [ ...{noun}... ]}}', "events")
    if len(events) > MAX_BATCH_EVENTS:
        raise ApiError(
            422,
            Problem(
                "too_many_events",
                "events",
                f"a batch holds at most {MAX_BATCH_EVENTS} events, this one {len(events)}; "
                "split it",
            ),
        )
    return events


def batch_schema(item_schema: dict[str, Any], noun: str, single: str) -> dict[str, Any]:
    """The OpenAPI schema of a batch body `{"events": [...]}` of up to MAX_BATCH_EVENTS
    items, each as the single endpoint `single` takes it.

    Written out rather than generated from a model: pydantic would put the item under
    `$defs`, which OpenAPI tools cannot resolve inside a requestBody.
    """
    return {
        "type": "object",
        "required": ["events"],
        "properties": {
            "events": {
                "type": "array",
                "maxItems": MAX_BATCH_EVENTS,
                "items": item_schema,
                "description": f"up to {MAX_BATCH_EVENTS} {noun}, as for POST {single}",
            }
        },
    }


class BatchResult(BaseModel):
    """The answer for one event of a batch, in request order."""

    index: int = Field(description="position of the event in `events`, from 0")
    status: str = Field(description="accepted | rejected")
    event_id: str | None = None
    warnings: list[dict[str, Any]] | None = None
    errors: list[dict[str, Any]] | None = None


class BatchAccepted(BaseModel):
    results: list[BatchResult]
    accepted: int
    rejected: int
