"""The read API (read token): attribution, funnel, revenue by type and the attribution
models, from the snapshot."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import duckdb
from fastapi import APIRouter, Query

from collector.deps import ReaderDep, SnapshotDep
from collector.errors import ApiError, error_responses
from collector.read import queries
from collector.read.responses import Attribution, AttributionModels, Funnel, RevenueByType
from collector.read.snapshot import Reading, SnapshotReader, SnapshotUnavailable
from collector.validation.problems import Problem
from collector.validation.scalar import is_uuid, uuid7_time

router = APIRouter(
    prefix="/api/conversions",
    tags=["read"],
    dependencies=[ReaderDep],
    responses=error_responses(401, 403, 404, 422, 503),
)

FromDate = Annotated[dt.date | None, Query(alias="from", description="first day, inclusive")]
ToDate = Annotated[dt.date | None, Query(alias="to", description="last day, inclusive")]


@contextmanager
def snapshot_reading(snapshot: SnapshotReader) -> Iterator[Reading]:
    try:
        reading = snapshot.read()
    except SnapshotUnavailable as exc:
        raise ApiError(
            503, Problem("snapshot_unavailable", None, str(exc)), {"Retry-After": "60"}
        ) from exc
    try:
        yield reading
    except (duckdb.CatalogException, duckdb.BinderException) as exc:
        # A snapshot published by an older version lacks a table or a column this
        # collector reads (docs/api.md#read-api): the next pipeline run republishes it.
        raise ApiError(
            503,
            Problem(
                "snapshot_outdated",
                None,
                "the published snapshot was built by an older version and lacks what this "
                "answer needs; the next `convtrack pipeline run` republishes it",
            ),
            {"Retry-After": "60"},
        ) from exc
    finally:
        reading.cursor.close()


def _uuid_path(name: str, value: str) -> str:
    if not is_uuid(value):
        raise ApiError(
            422, Problem("invalid_uuid", name, f"{name} must be a UUID in its 36-character form")
        )
    return value.lower()


def _not_found(name: str, value: str) -> ApiError:
    return ApiError(
        404, Problem("not_found", name, f"the published snapshot has nothing for {name} {value}")
    )


def _no_click(tracking_id: str, retained_since: dt.date | None) -> ApiError:
    """Not found; when retention has run, say what it removes, and say it removed this
    click when the id (a UUIDv7 minted by the redirect) dates it before the horizon."""
    if retained_since is None:
        return _not_found("tracking_id", tracking_id)
    clicked_at = uuid7_time(tracking_id)
    if clicked_at is not None and clicked_at < dt.datetime.combine(retained_since, dt.time()):
        return ApiError(
            404,
            Problem(
                "click_pruned",
                "tracking_id",
                f"tracking_id {tracking_id} was clicked on {clicked_at:%Y-%m-%d} (the time in "
                f"the id), before {retained_since}: retention removed that click and its "
                "conversions; the funnel and revenue of its link still count them",
            ),
        )
    return ApiError(
        404,
        Problem(
            "not_found",
            "tracking_id",
            f"the published snapshot has nothing for tracking_id {tracking_id}; "
            f"clicks before {retained_since} were removed by retention",
        ),
    )


def _range(start: dt.date | None, end: dt.date | None) -> None:
    if start and end and start > end:
        raise ApiError(422, Problem("invalid_range", "from", "from must be on or before to"))


def _funnel_row(cur: duckdb.DuckDBPyConnection, campaign_link_id: str) -> dict:
    """The link's funnel row, or a 404 when the snapshot knows no such link."""
    row = queries.funnel_row(cur, campaign_link_id)
    if row is None:
        raise _not_found("campaign_link_id", campaign_link_id)
    return row


@router.get("/attribution/{tracking_id}", response_model=Attribution)
def get_attribution(tracking_id: str, snapshot: SnapshotDep) -> Attribution:
    """The click behind a tracking id, its conversions, revenue and attribution window;
    404 `click_pruned` when retention removed it."""
    tracking_id = _uuid_path("tracking_id", tracking_id)
    with snapshot_reading(snapshot) as reading:
        answer = queries.attribution(reading.cursor, tracking_id)
        if answer is None:
            raise _no_click(tracking_id, queries.retained_since(reading.cursor))
        return Attribution.model_validate({"as_of": reading.as_of, **answer})


@router.get("/funnel/{campaign_link_id}", response_model=Funnel)
def get_funnel(
    campaign_link_id: str, snapshot: SnapshotDep, start: FromDate = None, end: ToDate = None
) -> Funnel:
    """Funnel counts and rates of a link: all time, or summed over days from..to."""
    campaign_link_id = _uuid_path("campaign_link_id", campaign_link_id)
    _range(start, end)
    with snapshot_reading(snapshot) as reading:
        row = _funnel_row(reading.cursor, campaign_link_id)
        if start is None and end is None:
            funnel = queries.funnel(row)
        else:
            funnel = queries.funnel_between(reading.cursor, row, start, end)
        return Funnel.model_validate({"as_of": reading.as_of, **funnel})


@router.get("/types/{campaign_link_id}", response_model=RevenueByType)
def get_revenue_by_type(
    campaign_link_id: str, snapshot: SnapshotDep, start: FromDate = None, end: ToDate = None
) -> RevenueByType:
    """Conversions, revenue and average revenue of a link per conversion type."""
    campaign_link_id = _uuid_path("campaign_link_id", campaign_link_id)
    _range(start, end)
    with snapshot_reading(snapshot) as reading:
        cur = reading.cursor
        _funnel_row(cur, campaign_link_id)  # a 404 for a link the snapshot does not know
        return RevenueByType.model_validate(
            {
                "as_of": reading.as_of,
                "campaign_link_id": campaign_link_id,
                "from": start.isoformat() if start else None,
                "to": end.isoformat() if end else None,
                "types": queries.revenue_by_type(cur, campaign_link_id, start, end),
            }
        )


@router.get("/models/{campaign_link_id}", response_model=AttributionModels)
def get_attribution_models(campaign_link_id: str, snapshot: SnapshotDep) -> AttributionModels:
    """Credited conversions and revenue of a link per conversion type and attribution
    model, over its whole life."""
    campaign_link_id = _uuid_path("campaign_link_id", campaign_link_id)
    with snapshot_reading(snapshot) as reading:
        cur = reading.cursor
        _funnel_row(cur, campaign_link_id)  # a 404 for a link the snapshot does not know
        return AttributionModels.model_validate(
            {
                "as_of": reading.as_of,
                "campaign_link_id": campaign_link_id,
                "models": queries.attribution_models(cur, campaign_link_id),
            }
        )
