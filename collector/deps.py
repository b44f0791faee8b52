"""Typed dependencies: what a route needs, taken from the app's state.

All are `async def` although none awaits: FastAPI runs a plain `def` dependency in its
thread pool, and those hand-offs cost more than the routes themselves (profiled, see
bench/README.md).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from collector.auth import check_bearer, check_bearer_any
from collector.errors import ApiError
from collector.links import LinkRegistry
from collector.observability import Metrics
from collector.rate_limit import TokenBucketLimiter
from collector.read.snapshot import SnapshotReader
from collector.storage import RawEventStore
from collector.validation.problems import Problem
from convtrack.core.settings import Settings

_bearer = HTTPBearer(auto_error=False)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_store(request: Request) -> RawEventStore:
    return request.app.state.store


async def get_links(request: Request) -> LinkRegistry:
    return request.app.state.links


async def get_snapshot(request: Request) -> SnapshotReader:
    return request.app.state.snapshot


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[RawEventStore, Depends(get_store)]
LinksDep = Annotated[LinkRegistry, Depends(get_links)]
SnapshotDep = Annotated[SnapshotReader, Depends(get_snapshot)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


async def require_admin(settings: SettingsDep, credentials: BearerDep) -> None:
    check_bearer(credentials, settings.admin_token, "CONVTRACK_ADMIN_TOKEN")


async def require_reader(settings: SettingsDep, credentials: BearerDep) -> None:
    check_bearer(credentials, settings.read_token, "CONVTRACK_READ_TOKEN")


async def require_refunder(settings: SettingsDep, credentials: BearerDep) -> None:
    """The refund intake: the merchant's back office (its own token) or an admin; never a
    browser, which holds neither (docs/api.md#refunds)."""
    check_bearer_any(
        credentials,
        {
            "CONVTRACK_REFUND_TOKEN": settings.refund_token,
            "CONVTRACK_ADMIN_TOKEN": settings.admin_token,
        },
    )


AdminDep = Depends(require_admin)
ReaderDep = Depends(require_reader)
RefunderDep = Depends(require_refunder)


async def rate_limit(request: Request, metrics: MetricsDep) -> None:
    """One token from the caller's bucket (keyed by socket peer), or 429 with Retry-After."""
    limiter: TokenBucketLimiter | None = request.app.state.rate_limiter
    if limiter is None:
        return
    wait = limiter.take(request.client.host if request.client else "")
    if wait:
        problem = Problem(
            "rate_limited", None, f"too many requests from this address; retry in {wait} s"
        )
        metrics.count_rejected([problem])
        raise ApiError(429, problem, {"Retry-After": str(wait)})


RateLimitDep = Depends(rate_limit)
