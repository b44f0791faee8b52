"""The tracker script for landing pages (docs/api.md): `collector/static/tracker.js`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import Response

from collector.deps import LinksDep, SettingsDep
from collector.links import LinkRegistry
from collector.validation.rules import MAX_TOUCHES
from convtrack.core.settings import Settings

router = APIRouter(prefix="/api/conversions", tags=["tracker"])

# Quoted string literals in tracker.js, each replaced by a JSON value when it is served, so
# that the script reads the collector's own settings and bounds instead of a second copy.
URL_PLACEHOLDER = '"__CONVTRACK_COLLECTOR_URL__"'
MAX_TOUCHES_PLACEHOLDER = '"__CONVTRACK_MAX_TOUCHES__"'
WINDOW_PLACEHOLDER = '"__CONVTRACK_TOUCH_WINDOW_DAYS__"'
CACHE_CONTROL = "public, max-age=3600"
MEDIA_TYPE = "application/javascript; charset=utf-8"


@dataclass(frozen=True, slots=True)
class TrackerScript:
    body: bytes
    etag: str


def touch_window_days(settings: Settings, links: LinkRegistry) -> int:
    """How long the tracker keeps a touch (docs/api.md#touch-paths): the longest window in
    use, the default or a link's own, past which the warehouse would drop the touch anyway.
    The tracker cannot tell links apart, so it keeps every touch that long."""
    return max([settings.attribution_window_days, *links.own_windows().values()])


@lru_cache(maxsize=8)
def render_tracker(collector_url: str, window_days: int) -> TrackerScript:
    """tracker.js pointed at `collector_url`, keeping touches `window_days` days, with a
    strong ETag over its bytes."""
    source = (files("collector") / "static" / "tracker.js").read_text(encoding="utf-8")
    # A JSON value is a valid JS literal; ensure_ascii keeps it plain ASCII.
    values = {
        URL_PLACEHOLDER: collector_url,
        MAX_TOUCHES_PLACEHOLDER: MAX_TOUCHES,
        WINDOW_PLACEHOLDER: window_days,
    }
    for placeholder, value in values.items():
        if source.count(placeholder) != 1:
            raise RuntimeError(f"tracker.js must contain {placeholder} exactly once")
        source = source.replace(placeholder, json.dumps(value))
    body = source.encode("utf-8")
    return TrackerScript(body=body, etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"')


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 If-None-Match: `*` or any listed tag, compared weakly (W/ ignored)."""
    if not if_none_match:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


@router.get(
    "/script",
    response_class=Response,
    responses={
        200: {"content": {"application/javascript": {}}, "description": "the tracker"},
        304: {"description": "the copy named by If-None-Match is current"},
    },
)
def tracker_script(
    settings: SettingsDep,
    links: LinksDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The CampaignTracker library, pointed at PUBLIC_URL (never the request's Host)."""
    script = render_tracker(settings.public_url, touch_window_days(settings, links))
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": script.etag}
    if etag_matches(if_none_match, script.etag):
        return Response(status_code=304, headers=headers)
    return Response(script.body, media_type=MEDIA_TYPE, headers=headers)
