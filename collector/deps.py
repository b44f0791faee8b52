"""Typed dependencies: what a route needs, taken from the app's state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from collector.auth import check_bearer
from collector.links import LinkRegistry
from collector.read.snapshot import SnapshotReader
from collector.storage import RawEventStore
from convtrack.settings import Settings

_bearer = HTTPBearer(auto_error=False)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_store(request: Request) -> RawEventStore:
    return request.app.state.store


def get_links(request: Request) -> LinkRegistry:
    return request.app.state.links


def get_snapshot(request: Request) -> SnapshotReader:
    return request.app.state.snapshot


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[RawEventStore, Depends(get_store)]
LinksDep = Annotated[LinkRegistry, Depends(get_links)]
SnapshotDep = Annotated[SnapshotReader, Depends(get_snapshot)]


def require_admin(settings: SettingsDep, credentials: BearerDep) -> None:
    check_bearer(credentials, settings.admin_token, "CONVTRACK_ADMIN_TOKEN")


def require_reader(settings: SettingsDep, credentials: BearerDep) -> None:
    check_bearer(credentials, settings.read_token, "CONVTRACK_READ_TOKEN")


AdminDep = Depends(require_admin)
ReaderDep = Depends(require_reader)
