"""Request body limits (SPEC §5): `413 body_too_large`, decided while the body arrives.

A pure ASGI middleware: a declared Content-Length over the limit is refused before a
byte of the body is read; otherwise the bytes are counted as the app reads them, and the
app's answer is replaced by the 413 as soon as the count passes the limit. Nothing ever
holds more than the limit in memory.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collector.errors import error_response
from collector.validation.problems import Problem
from collector.validation.rules import MAX_BODY_BYTES, MAX_BULK_BODY_BYTES

# Endpoints that take many events in one body (a batch of 500, a historical import).
BULK_PATHS = frozenset({"/api/conversions/batch", "/api/admin/import"})


def body_limit_for(path: str) -> int:
    return MAX_BULK_BODY_BYTES if path.rstrip("/") in BULK_PATHS else MAX_BODY_BYTES


class BodyTooLarge(Exception):
    """Raised from `receive` once the body passes its limit; the middleware answers 413."""


def too_large_problem(limit: int) -> Problem:
    return Problem(
        "body_too_large",
        None,
        f"the request body is larger than {limit // 1024} KB; send fewer or smaller events",
    )


class BodySizeLimitMiddleware:
    """413 for bodies over `limit_for(path)` bytes, without reading more than that."""

    def __init__(self, app: ASGIApp, limit_for=body_limit_for) -> None:
        self.app = app
        self.limit_for = limit_for

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
    app.add_middleware(BodySizeLimitMiddleware)
