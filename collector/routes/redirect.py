"""The campaign link redirect: record the click, send the viewer on with attribution."""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode, urlsplit, urlunsplit

import uuid_utils
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from collector.clock import utc_now
from collector.deps import LinksDep, MetricsDep, RateLimitDep, SettingsDep, StoreDep
from collector.errors import error_responses
from collector.links import CampaignLink, LinkRegistry
from collector.privacy import truncate_ip
from collector.validation.rules import MAX_REFERRER_CHARS, MAX_USER_AGENT_CHARS, clip

router = APIRouter(tags=["redirect"])

ATTRIBUTION_PARAMS = ("ct_tracking_id", "ct_campaign_link_id")

NOT_FOUND_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Link not found</title></head>
<body><h1>Link not found</h1>
<p>The link <code>/c/{code}</code> does not exist or is no longer active.</p></body></html>
"""


def with_attribution(destination: str, tracking_id: str, campaign_link_id: str) -> str:
    """`destination` with the attribution parameters added; its query and fragment kept."""
    parts = urlsplit(destination)
    # Keep the destination's own parameters byte for byte, minus stale attribution ones.
    kept = [p for p in parts.query.split("&") if p and p.split("=", 1)[0] not in ATTRIBUTION_PARAMS]
    added = urlencode({"ct_tracking_id": tracking_id, "ct_campaign_link_id": campaign_link_id})
    return urlunsplit(parts._replace(query="&".join([*kept, added])))


async def _find(links: LinkRegistry, short_code: str) -> CampaignLink | HTMLResponse:
    """The active link with this code, or the 404 page to answer instead."""
    link = await links.find_by_short_code(short_code)
    if link is None or link.disabled:
        return HTMLResponse(NOT_FOUND_PAGE.format(code=escape(short_code)), status_code=404)
    return link


def _redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=302, headers={"Cache-Control": "no-store"})


NOT_FOUND = {404: {"description": "unknown or disabled link", "content": {"text/html": {}}}}


@router.get(
    "/c/{short_code}",
    response_class=RedirectResponse,
    status_code=302,
    responses={**NOT_FOUND, **error_responses(429, 503)},
    dependencies=[RateLimitDep],
)
async def follow_link(
    short_code: str,
    request: Request,
    settings: SettingsDep,
    store: StoreDep,
    links: LinksDep,
    metrics: MetricsDep,
) -> Response:
    """Record a click and redirect to the link's destination with attribution parameters."""
    link = await _find(links, short_code)
    if isinstance(link, Response):
        return link
    tracking_id = str(uuid_utils.uuid7())
    now = utc_now()
    click = {
        "event_id": str(uuid_utils.uuid7()),
        "tracking_id": tracking_id,
        "campaign_link_id": link.campaign_link_id,
        "clicked_at": now,
        "received_at": now,
        "ip_address": truncate_ip(
            request.client.host if request.client else None,
            store_full_ip=settings.store_full_ip,
        ),
        "user_agent": clip(request.headers.get("user-agent"), MAX_USER_AGENT_CHARS),
        "referrer": clip(request.headers.get("referer"), MAX_REFERRER_CHARS),
        "source": "redirect",
    }
    # The viewer is sent on only once the click is on disk: its conversions need it.
    await store.append("clicks", [click])
    metrics.count_accepted("clicks")
    return _redirect(with_attribution(link.destination_url, tracking_id, link.campaign_link_id))


@router.head(
    "/c/{short_code}", response_class=RedirectResponse, status_code=302, responses=NOT_FOUND
)
async def check_link(short_code: str, links: LinksDep) -> Response:
    """Redirect like GET but record nothing: HEAD comes from link checkers and previews."""
    link = await _find(links, short_code)
    if isinstance(link, Response):
        return link
    tracking_id = str(uuid_utils.uuid7())
    return _redirect(with_attribution(link.destination_url, tracking_id, link.campaign_link_id))
