"""The collector app on a temporary data directory, through FastAPI's TestClient."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import uuid_utils
from fastapi.testclient import TestClient

from collector.app import create_app
from convtrack.core.raw_log import log_dir, segment_tables
from convtrack.core.raw_schema import SCHEMAS
from convtrack.core.settings import Settings

ADMIN = "admin-secret"
READER = "read-secret"
EPOCH = dt.datetime(1970, 1, 1)


def uuid7_at(moment: dt.datetime) -> str:
    """A UUIDv7 whose embedded time is `moment` (naive UTC), as a click minted then."""
    nanos = (moment - EPOCH) // dt.timedelta(microseconds=1) * 1000
    return str(uuid_utils.uuid7(nanoseconds=nanos))


def read_stream(settings: Settings, stream: str) -> list[dict]:
    """Every row of a raw stream on disk: its Parquet files, then the append log's
    segments not yet rotated into Parquet (acknowledged rows are durable there)."""
    tables = [
        pq.read_table(f, schema=SCHEMAS[stream])
        for f in sorted((settings.raw_dir / stream).glob("dt=*/*.parquet"))
    ]
    for segment in sorted(log_dir(settings.raw_dir).glob("*.log")):
        for (s, _), table in sorted(segment_tables(segment.read_bytes()).items()):
            if s == stream:
                tables.append(table)
    return pa.concat_tables(tables).to_pylist() if tables else []


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", admin_token=ADMIN, read_token=READER)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def reader_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {READER}"}


@pytest.fixture
def link(client: TestClient, admin_headers: dict[str, str]) -> dict:
    resp = client.post(
        "/api/campaign-links",
        json={
            "short_code": "launch",
            "destination_url": "https://example.com/course?utm_source=yt&x=a%20b#pricing",
            "campaign_name": "Launch",
            "youtube_video_id": "dQw4w9WgXcQ",
            "placement": "description",
        },
        headers=admin_headers,
    )
    assert resp.status_code == 201, resp.text
    return resp.json()
