"""Request body limits (docs/api.md#limits): `413 body_too_large`, decided while the body
arrives.

Every path takes at most `MAX_BODY_BYTES`, unless its route declares another limit with
`json_request_body(...)`: the limit goes into the route's OpenAPI operation (and its
request body's description), and the middleware reads it from there. The limit a client
reads is the one enforced, and a route with a larger body cannot forget to say so.

A pure ASGI middleware: a declared Content-Length over the limit is refused before a
byte of the body is read; otherwise the bytes are counted as the app reads them, and the
app's answer is replaced by the 413 as soon as the count passes the limit. Nothing ever
holds more than the limit in memory.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collector.errors import error_response
from collector.validation.problems import Problem
from collector.validation.rules import MAX_BODY_BYTES

# The OpenAPI extension under which an operation declares the largest body it takes.
BODY_LIMIT_KEY = "x-body-limit-bytes"


def json_request_body(schema: dict[str, Any], *, limit: int, description: str = "") -> dict:
    """`openapi_extra` for a route that reads its JSON body itself: the body's schema, and
    its limit, both documented and enforced by the middleware below."""
    return {
        BODY_LIMIT_KEY: limit,
        "requestBody": {
            "required": True,
            "description": " ".join(
                [f"JSON, at most {limit // 1024} KB (larger bodies: 413).", description]
            ).strip(),
            "content": {"application/json": {"schema": schema}},
        },
    }


class BodyLimits:
    """The body limit of a path: what its OpenAPI operation declares, else `MAX_BODY_BYTES`."""

    def __init__(self, openapi: dict[str, Any]) -> None:
        self._declared: list[tuple[re.Pattern[str], int]] = [
            (compile_path(path)[0], operation[BODY_LIMIT_KEY])
            for path, operations in openapi.get("paths", {}).items()
            for operation in operations.values()
            if isinstance(operation, dict) and BODY_LIMIT_KEY in operation
        ]

    def __call__(self, path: str) -> int:
        for path_regex, limit in self._declared:
            if path_regex.match(path):
                return limit
        return MAX_BODY_BYTES


class BodyTooLarge(Exception):
    """Raised from `receive` once the body passes its limit; the middleware answers 413."""


def too_large_problem(limit: int) -> Problem:
    return Problem(
        "body_too_large",
        None,
        f"the request body is larger than {limit // 1024} KB; send fewer or smaller events",
    )


class BodySizeLimitMiddleware:
    """413 for bodies over their path's limit, without reading more than that."""

    def __init__(self, app: ASGIApp, openapi: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        # Starlette builds its middleware when the app first runs (its lifespan), once
        # every router is included: the document describes them all.
        self.limit_for = BodyLimits(openapi())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await error_response(413, [too_large_problem(limit)])(scope, receive, send)
            return

        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # whatever the app makes of the interrupted read, the answer is 413
            started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except BodyTooLarge:
            pass
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await error_response(413, [too_large_problem(limit)])(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def install_body_limits(app: FastAPI) -> None:
    """413 for bodies over the limits the app's routes declare (or the default)."""
    app.add_middleware(BodySizeLimitMiddleware, openapi=app.openapi)
