"""Request bodies read as JSON by the endpoints themselves, with one kind of refusal.

Parsed by hand rather than by FastAPI: numbers keep their decimal text (1.005 stays
1.005), and any content type is accepted because `navigator.sendBeacon` posts text/plain.
Every refusal is a 422 `invalid_body` (docs/api.md#errors).
"""

from __future__ import annotations

from typing import Any

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
