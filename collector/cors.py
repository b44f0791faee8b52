"""CORS for landing pages (docs/api.md): the configured origins, or the link destinations'.

With `CORS_ORIGINS` unset, an origin is allowed when some registered campaign link lands
on it. Links are created while the collector runs (and by other processes), so the check
reads the link registry at request time instead of a list fixed at start.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collector.links import LinkRegistry
from convtrack.core.origins import origin_of

# The tracker posts JSON; nothing it sends needs more (no cookies, no auth headers).
ALLOW_METHODS = ("GET", "POST")
ALLOW_HEADERS = ("Content-Type",)
PREFLIGHT_MAX_AGE_S = 600


def _has_origin(scope: Scope) -> bool:
    return any(name == b"origin" for name, _ in scope["headers"])


def _vary_origin(send: Send) -> Send:
    """`send`, with `Vary: Origin` on the answer, as Starlette's CORS writes it."""

    async def send_varying(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = message.setdefault("headers", [])
            varies = [value for name, value in headers if name.lower() == b"vary"]
            if varies:
                headers[:] = [(n, v) for n, v in headers if n.lower() != b"vary"]
            headers.append((b"vary", b", ".join([*varies, b"Origin"])))
        await send(message)

    return send_varying


class QuietCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, nearly free on a request without an `Origin` (the redirects, the
    back office, most conversions sent by `sendBeacon` from the same site).

    Starlette builds its header views and wraps `send` for every request; without an
    origin all it does is add `Vary: Origin` (a cache must not give that answer to a
    cross-origin request), which this does on the raw headers.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif not _has_origin(scope):
            await self.app(scope, receive, _vary_origin(send))
        else:
            await self._with_origin(scope, receive, send)

    async def _with_origin(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)


class LinkOriginsCORSMiddleware(QuietCORSMiddleware):
    """Starlette's CORS, with origins taken from the current campaign link destinations."""

    def __init__(self, app: ASGIApp, registry: Callable[[], LinkRegistry | None]) -> None:
        super().__init__(
            app,
            allow_methods=ALLOW_METHODS,
            allow_headers=ALLOW_HEADERS,
            max_age=PREFLIGHT_MAX_AGE_S,
        )
        self._registry = registry
        self._link_count = -1
        self._origins: frozenset[str] = frozenset()

    def _current_origins(self, links: LinkRegistry) -> frozenset[str]:
        # Links are never removed and their destination never changes, so the number of
        # links tells whether the set of origins can have changed.
        ids = links.ids()
        if len(ids) != self._link_count:
            # Disabled links count too: their visitors keep converting within the window.
            origins = {origin_of(link.destination_url) for link in links.all()}
            self._origins = frozenset(o for o in origins if o is not None)
            self._link_count = len(ids)
        return self._origins

    async def _with_origin(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._look_for_new_links(Headers(scope=scope).get("origin"))
        await super()._with_origin(scope, receive, send)

    async def _look_for_new_links(self, origin: str | None) -> None:
        """Before Starlette decides on an origin no known link lands on: maybe another
        collector registered one a moment ago, so re-read (off the event loop, and at
        most once per `MISS_REFRESH_INTERVAL_S`)."""
        links = self._registry()
        wanted = origin_of(origin) if origin is not None else None
        if links is not None and wanted is not None and wanted not in self._current_origins(links):
            await links.refresh_after_miss()

    def is_allowed_origin(self, origin: str) -> bool:
        links = self._registry()
        wanted = origin_of(origin)
        if links is None or wanted is None:
            return False
        return wanted in self._current_origins(links)


def install_cors(app: FastAPI) -> None:
    """CORS for `app` from its settings: `CORS_ORIGINS`, else the link destinations."""
    # Validated and serialised as browsers send them when the settings were read.
    configured = app.state.settings.cors_origins
    if configured:
        app.add_middleware(
            QuietCORSMiddleware,
            allow_origins=configured,
            allow_methods=ALLOW_METHODS,
            allow_headers=ALLOW_HEADERS,
            max_age=PREFLIGHT_MAX_AGE_S,
        )
    else:
        app.add_middleware(
            LinkOriginsCORSMiddleware, registry=lambda: getattr(app.state, "links", None)
        )
