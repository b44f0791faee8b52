"""Campaign links: create, list, disable (admin token)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel, Field

from collector.deps import AdminDep, LinksDep, SettingsDep
from collector.errors import ApiError, error_responses
from collector.links import CampaignLink, LinkError
from collector.validation.problems import Problem
from collector.validation.rules import (
    MAX_ATTRIBUTION_WINDOW_DAYS,
    MAX_CAMPAIGN_NAME_CHARS,
    MAX_PLACEMENT_CHARS,
    MAX_URL_CHARS,
    MAX_VIDEO_ID_CHARS,
)

router = APIRouter(
    prefix="/api/campaign-links",
    tags=["campaign links"],
    dependencies=[AdminDep],
    responses=error_responses(401, 403, 404, 409, 413, 422, 503),
)


def _bounded(max_chars: int, description: str):
    # Documented in the schema, enforced by the registry (one code for every caller).
    return Field(None, description=description, json_schema_extra={"maxLength": max_chars})


class LinkIn(BaseModel):
    short_code: str = Field(description="the code in /c/{short_code}")
    destination_url: str = Field(
        description="absolute http(s) URL of the landing page, without user:password",
        json_schema_extra={"maxLength": MAX_URL_CHARS},
    )
    campaign_name: str | None = _bounded(MAX_CAMPAIGN_NAME_CHARS, "campaign name")
    youtube_video_id: str | None = _bounded(MAX_VIDEO_ID_CHARS, "YouTube video id")
    placement: str | None = _bounded(MAX_PLACEMENT_CHARS, "where the link sits")
    # Strict: 30.0, "30" or true are no number of days. Bounds enforced by the registry.
    attribution_window_days: int | None = Field(
        None,
        strict=True,
        description=(
            "the link's own attribution window in whole days; left out: the default "
            "(CONVTRACK_ATTRIBUTION_WINDOW_DAYS). When CONVTRACK_RETENTION_DAYS is set, "
            "window + 1 must fit in it (else 409 window_exceeds_retention)"
        ),
        json_schema_extra={"minimum": 1, "maximum": MAX_ATTRIBUTION_WINDOW_DAYS},
    )


class LinkPatch(BaseModel):
    disabled: bool


class LinkOut(BaseModel):
    campaign_link_id: str
    short_code: str
    short_url: str
    destination_url: str
    campaign_name: str | None
    youtube_video_id: str | None
    placement: str | None
    created_at: dt.datetime
    disabled_at: dt.datetime | None
    disabled: bool
    attribution_window_days: int | None = Field(
        description="the link's own window in days; null: the default applies"
    )


def link_out(link: CampaignLink, public_url: str) -> LinkOut:
    return LinkOut(
        **{k: v for k, v in link.row().items() if k != "recorded_at"},
        short_url=f"{public_url}/c/{link.short_code}",
        disabled=link.disabled,
    )


@router.post("", status_code=201, response_model=LinkOut)
async def create_link(body: LinkIn, links: LinksDep, settings: SettingsDep) -> LinkOut:
    """Register a campaign link; 409 when its short code is taken or its window is longer
    than the configured retention keeps clicks."""
    try:
        link = await links.create(
            **body.model_dump(), retention_days=settings.configured_retention_days
        )
    except LinkError as exc:
        status = 409 if exc.code in ("short_code_taken", "window_exceeds_retention") else 422
        raise ApiError(status, Problem(exc.code, exc.field, exc.message)) from exc
    return link_out(link, settings.public_url)


@router.get("", response_model=list[LinkOut])
def list_links(links: LinksDep, settings: SettingsDep) -> list[LinkOut]:
    """Every link in its current version, oldest first."""
    return [link_out(link, settings.public_url) for link in links.all()]


@router.patch("/{campaign_link_id}", response_model=LinkOut)
async def update_link(
    campaign_link_id: str, body: LinkPatch, links: LinksDep, settings: SettingsDep
) -> LinkOut:
    """Disable a link (its redirect answers 404 from then on), or enable it again."""
    link = await links.set_disabled(campaign_link_id.lower(), body.disabled)
    if link is None:
        raise ApiError(
            404,
            Problem("unknown_campaign_link", "campaign_link_id", "no campaign link has this id"),
        )
    return link_out(link, settings.public_url)
