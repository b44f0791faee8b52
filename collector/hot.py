"""The hot public paths served straight to their endpoints (docs/operations.md#speed).

`POST /api/conversions`, `POST /api/conversions/batch` and `GET /c/{short_code}` carry
nearly all of the collector's traffic. FastAPI would match them against every route and
solve their dependencies again on each request, which profiled at more than half of the
collector's CPU per conversion (bench/README.md). This layer sits just outside FastAPI's
router, inside every middleware (proxy headers, logs and metrics, CORS, body limits):
for those three paths it calls the very endpoint and route dependencies FastAPI declares,
with their arguments resolved once, when the app starts, from the app's state.

The routes stay declared in FastAPI: the OpenAPI document, the validation and the error
shapes are theirs. A hot route whose endpoint or dependency asks for something this layer
cannot give fails the app's start, naming it, instead of being served differently.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

HOT_ROUTES = (
    ("POST", "/api/conversions"),
    ("POST", "/api/conversions/batch"),
    ("GET", "/c/{short_code}"),
)
# What an endpoint or dependency of a hot route may ask for, by parameter name: the
# request, its path parameters, and these services from the app's state.
SERVICES = ("settings", "store", "links", "metrics")


@dataclass(frozen=True, slots=True)
class _Call:
    """An endpoint or dependency, and the names of the arguments it takes."""

    function: Callable[..., Awaitable[Any]]
    arguments: tuple[str, ...]

    def __call__(self, values: dict[str, Any]) -> Awaitable[Any]:
        return self.function(**{name: values[name] for name in self.arguments})


@dataclass(frozen=True, slots=True)
class _HotRoute:
    route: BaseRoute  # what the router would put in the scope
    path: str
    path_regex: re.Pattern[str]
    param_convertors: dict[str, Convertor[Any]]
    dependencies: tuple[_Call, ...]
    endpoint: _Call


def _call(function: Callable[..., Any], path: str, parameters: Iterable[str]) -> _Call:
    if not inspect.iscoroutinefunction(function):
        raise RuntimeError(f"{path}: {function.__qualname__} must be `async def`")
    allowed = {"request", *SERVICES, *parameters}
    arguments = tuple(inspect.signature(function).parameters)
    unknown = [name for name in arguments if name not in allowed]
    if unknown:
        raise RuntimeError(
            f"{path}: {function.__qualname__} asks for {unknown}, which the hot path "
            f"layer cannot give (it gives {sorted(allowed)}; collector/hot.py)"
        )
    return _Call(function, arguments)


def _hot_route(app: FastAPI, method: str, path: str) -> _HotRoute:
    for context in iter_route_contexts(app.routes):
        if context.path == path and method in (context.methods or ()):
            convertors = context.param_convertors
            return _HotRoute(
                route=context.original_route,
                path=path,
                path_regex=context.path_regex,
                param_convertors=convertors,
                dependencies=tuple(
                    _call(d.dependency, path, convertors) for d in context.dependencies
                ),
                endpoint=_call(context.endpoint, path, convertors),
            )
    raise RuntimeError(f"no route {method} {path} to serve as a hot path")


class HotPathMiddleware:
    """Serve `HOT_ROUTES` directly; hand every other request to FastAPI's router."""

    def __init__(self, app: ASGIApp, owner: FastAPI) -> None:
        self.app = app
        self.owner = owner
        # Starlette builds its middleware when the app first runs, with every router
        # included: the routes can be looked up now.
        hot = [(method, _hot_route(owner, method, path)) for method, path in HOT_ROUTES]
        self._exact = {(method, h.path): h for method, h in hot if not h.param_convertors}
        self._templated: list[tuple[str, str, _HotRoute]] = [
            (method, h.path.split("{", 1)[0], h) for method, h in hot if h.param_convertors
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A root path (a mount behind a prefix) is left to the router, which knows it.
        if scope["type"] == "http" and not scope.get("root_path"):
            found = self._match(scope["method"], scope["path"])
            if found is not None:
                await self._serve(*found, scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _match(self, method: str, path: str) -> tuple[_HotRoute, dict[str, Any]] | None:
        hot = self._exact.get((method, path))
        if hot is not None:
            return hot, {}
        for hot_method, prefix, hot in self._templated:
            if method == hot_method and path.startswith(prefix):
                matched = hot.path_regex.match(path)
                if matched:
                    convertors = hot.param_convertors
                    return hot, {
                        name: convertors[name].convert(value)
                        for name, value in matched.groupdict().items()
                    }
        return None

    async def _serve(
        self,
        hot: _HotRoute,
        path_params: dict[str, Any],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        # What the router would have put in the scope: logs and metrics read the route.
        scope["route"] = hot.route
        scope["endpoint"] = hot.endpoint.function
        scope["path_params"] = path_params
        request = Request(scope, receive, send)
        state = self.owner.state
        values = {
            "request": request,
            "settings": state.settings,
            "store": state.store,
            "links": state.links,
            "metrics": state.metrics,
            **path_params,
        }
        try:
            for dependency in hot.dependencies:
                await dependency(values)
            response = await hot.endpoint(values)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            if inspect.iscoroutinefunction(handler):
                response = await handler(request, exc)
            else:
                response = await run_in_threadpool(handler, request, exc)
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> Callable[..., Awaitable[Any]] | None:
        """The app's own handler for this exception, as FastAPI would pick it."""
        handlers = self.owner.exception_handlers
        for cls in type(exc).__mro__:
            if cls in handlers:
                return handlers[cls]
        return None


def install_hot_paths(app: FastAPI) -> None:
    """Innermost middleware: after every other layer, before FastAPI's router."""
    app.add_middleware(HotPathMiddleware, owner=app)
