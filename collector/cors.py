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
from starlette.types import ASGIApp, Receive, Scope, Send

from collector.links import LinkRegistry
from convtrack.core.origins import origin_of

# The tracker posts JSON; nothing it sends needs more (no cookies, no auth headers).
ALLOW_METHODS = ("GET", "POST")
ALLOW_HEADERS = ("Content-Type",)
PREFLIGHT_MAX_AGE_S = 600


class LinkOriginsCORSMiddleware(CORSMiddleware):
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._look_for_new_links(Headers(scope=scope).get("origin"))
        await super().__call__(scope, receive, send)

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
            CORSMiddleware,
            allow_origins=configured,
            allow_methods=ALLOW_METHODS,
            allow_headers=ALLOW_HEADERS,
            max_age=PREFLIGHT_MAX_AGE_S,
        )
    else:
        app.add_middleware(
            LinkOriginsCORSMiddleware, registry=lambda: getattr(app.state, "links", None)
        )
