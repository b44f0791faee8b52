"""Web origins (`scheme://host[:port]`) serialised as browsers send them in `Origin`."""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """The origin a browser would send for a page at `url` (`scheme://host[:port]`)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
        host = parts.hostname  # lowercased, IPv6 without brackets
        if parts.scheme not in DEFAULT_PORTS or not host:
            return None
        host = host.encode("idna").decode("ascii")  # browsers send punycode
    except (ValueError, UnicodeError):
        return None
    if ":" in host:
        host = f"[{host}]"
    suffix = f":{port}" if port is not None and port != DEFAULT_PORTS[parts.scheme] else ""
    return f"{parts.scheme}://{host}{suffix}"


def is_bare_origin(text: str) -> bool:
    """Whether `text` names an origin and nothing more: no path (but `/`), query,
    fragment or user; `https://Shop.Example:443/` is one, `https://shop.example/a` is not."""
    if origin_of(text) is None:
        return False
    parts = urlsplit(text.strip())
    return parts.path in ("", "/") and not (parts.query or parts.fragment or "@" in parts.netloc)
