"""Errors for people: `{"detail": {"code", "field", "message"}}`, or a list of them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from collector.storage import StoreUnavailable, UnstorableRow
from collector.validation.problems import Problem

if TYPE_CHECKING:
    from collector.observability import Metrics


class ApiError(Exception):
    """An answer other than success, with the problems that explain it."""

    def __init__(
        self,
        status_code: int,
        problems: Problem | Sequence[Problem],
        headers: dict[str, str] | None = None,
    ):
        self.status_code = status_code
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        self.headers = headers

    def counted(self, metrics: Metrics) -> ApiError:
        """This error, its problems counted as rejections in `metrics`."""
        metrics.count_rejected(self.problems)
        return self


class ProblemOut(BaseModel):
    code: str
    field: str | None
    message: str


class ErrorOut(BaseModel):
    """Every refusal: one problem, or a list when there are several."""

    detail: ProblemOut | list[ProblemOut]


ERROR_DESCRIPTIONS = {
    401: "no bearer token sent",
    403: "wrong token, or the endpoint is closed (no token configured)",
    404: "not found",
    409: "conflict",
    413: "request body too large (code body_too_large)",
    422: "refused: detail carries code, field and message",
    429: "rate limited (code rate_limited); Retry-After says when to retry",
    503: "temporarily unavailable; retry later",
}


def error_responses(*status_codes: int) -> dict[int | str, dict]:
    """OpenAPI `responses` for these refusals, all in the error shape."""
    return {
        code: {"model": ErrorOut, "description": ERROR_DESCRIPTIONS[code]} for code in status_codes
    }


def detail(problems: Sequence[Problem]) -> dict | list[dict]:
    items = [p.as_dict() for p in problems]
    return items[0] if len(items) == 1 else items


def error_response(
    status_code: int, problems: Sequence[Problem], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"detail": detail(problems)}, status_code=status_code, headers=headers)


def _field_of(loc: Sequence[str | int]) -> str | None:
    # ("body", "short_code") -> "short_code"; ("query", "from") -> "from"; ("body", 12) -> None
    names = [str(part) for part in loc[1:] if isinstance(part, str)]
    return ".".join(names) or None


def validation_problems(exc: RequestValidationError) -> list[Problem]:
    problems = []
    for error in exc.errors():
        field = _field_of(error.get("loc", ()))
        if error.get("type") == "json_invalid":
            problems.append(Problem("invalid_body", None, "the request body is not valid JSON"))
            continue
        where = f"{field}: " if field else "the request body: "
        problems.append(Problem("invalid_body", field, where + error.get("msg", "is invalid")))
    return problems or [Problem("invalid_body", None, "the request is invalid")]


# nginx's code for "the client closed the connection before the answer": nobody reads it,
# but the access log and metrics say what happened instead of a 500.
CLIENT_CLOSED_REQUEST = 499


def http_problem(request: Request, exc: StarletteHTTPException) -> Problem:
    """The routing errors (unknown path, wrong method) and other HTTP errors as a Problem."""
    if exc.status_code == 404:
        hint = "; API paths have no trailing slash" if request.url.path.endswith("/") else ""
        return Problem("not_found", None, f"there is nothing at this path{hint} (see /docs)")
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        return Problem(
            "method_not_allowed",
            None,
            f"{request.method} is not allowed on this path"
            + (f"; allowed: {allowed}" if allowed else ""),
        )
    message = exc.detail if isinstance(exc.detail, str) else "the request cannot be served"
    return Problem("http_error", None, message)


def install_error_handlers(app: FastAPI) -> None:
    """Same error shape for our own refusals, routing errors, FastAPI's request
    validation and storage."""

    async def on_api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status_code, exc.problems, exc.headers)

    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, validation_problems(exc))

    async def on_store_unavailable(request: Request, exc: StoreUnavailable) -> JSONResponse:
        # Nothing was acknowledged; the client may retry with the same event_id.
        return error_response(
            503,
            [Problem("storage_unavailable", None, "events cannot be stored right now; retry")],
            {"Retry-After": "1"},
        )

    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, [http_problem(request, exc)], exc.headers)

    async def on_client_disconnect(request: Request, exc: ClientDisconnect) -> Response:
        # The client went away while sending its body: nothing was stored, nothing to answer.
        return Response(status_code=CLIENT_CLOSED_REQUEST)

    async def on_unstorable_row(request: Request, exc: UnstorableRow) -> JSONResponse:
        # Validation refuses such rows first; this is the store's own refusal behind it.
        # Nothing was written, and the same event sent again would be refused again.
        return error_response(422, [Problem("unstorable_event", exc.field, str(exc))])

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(ClientDisconnect, on_client_disconnect)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StoreUnavailable, on_store_unavailable)
    app.add_exception_handler(UnstorableRow, on_unstorable_row)
