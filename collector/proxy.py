"""Who the client is behind a reverse proxy: believed only from proxies the settings name.

`X-Forwarded-For` is a header any client can send. Trusted blindly, it lets a client pick
its own rate-limit key and the network stored with its clicks. So it is read only when
the socket peer is one of `CONVTRACK_FORWARDED_ALLOW_IPS`; with the setting empty (the
default) the peer is the client. The app installs this itself, so it holds however the
app is served (`convtrack serve` turns uvicorn's own proxy handling off).
"""

from __future__ import annotations

from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


def install_proxy_headers(app: FastAPI) -> None:
    """Outermost: every other layer (logs, rate limit, the stored IP) sees the client."""
    trusted = app.state.settings.trusted_proxies
    if trusted:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted)
