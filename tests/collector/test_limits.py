"""413 above the body limits and the per-IP token bucket (429 with Retry-After)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import uuid_utils
from fastapi import APIRouter, Request
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.body_limit import BODY_LIMIT_KEY, json_request_body
from collector.rate_limit import TokenBucketLimiter
from collector.validation.rules import MAX_BODY_BYTES, MAX_BULK_BODY_BYTES
from convtrack.core.settings import Settings
from tests.collector.conftest import read_stream


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def chunks(total: int, size: int = 16 * 1024) -> Iterator[bytes]:
    """A body sent without Content-Length (chunked): only counting can stop it."""
    while total > 0:
        yield b" " * min(size, total)
        total -= size


# -- body size ---------------------------------------------------------------------------


def test_declared_length_over_64kb_is_413_before_reading(client, settings):
    resp = client.post("/api/conversions", content=b" " * (MAX_BODY_BYTES + 1))
    assert resp.status_code == 413
    assert resp.json()["detail"]["code"] == "body_too_large"
    assert read_stream(settings, "conversions") == []


def test_body_of_exactly_64kb_is_read(client, link):
    event = (
        f'{{"tracking_id":"{uuid_utils.uuid7()}","campaign_link_id":'
        f'"{link["campaign_link_id"]}","event_type":"course_enrollment"}}'
    ).encode()
    resp = client.post("/api/conversions", content=event.ljust(MAX_BODY_BYTES, b" "))
    assert resp.status_code == 202, resp.text


def test_chunked_body_over_the_limit_is_413(client, settings):
    resp = client.post("/api/conversions", content=chunks(MAX_BODY_BYTES + 1024))
    assert resp.status_code == 413
    assert resp.json()["detail"]["code"] == "body_too_large"


def test_chunked_body_over_the_limit_is_413_on_pydantic_routes(client, admin_headers):
    # FastAPI reads these bodies itself (and would turn a read error into a 400).
    resp = client.post(
        "/api/campaign-links", content=chunks(MAX_BODY_BYTES + 1024), headers=admin_headers
    )
    assert resp.status_code == 413


def test_batch_and_import_have_the_larger_limit(client, admin_headers):
    body = b'{"events": []}'.ljust(MAX_BODY_BYTES * 2, b" ")
    assert client.post("/api/conversions/batch", content=body).status_code == 202
    resp = client.post("/api/conversions/batch", content=b" " * (MAX_BULK_BODY_BYTES + 1))
    assert resp.status_code == 413
    big = b'{"clicks": []}'.ljust(MAX_BODY_BYTES * 2, b" ")
    assert client.post("/api/admin/import", content=big, headers=admin_headers).status_code == 200
    resp = client.post(
        "/api/admin/import", content=chunks(MAX_BULK_BODY_BYTES + 1), headers=admin_headers
    )
    assert resp.status_code == 413


def test_openapi_names_the_limits(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "64 KB" in paths["/api/conversions"]["post"]["requestBody"]["description"]
    assert "1024 KB" in paths["/api/conversions/batch"]["post"]["requestBody"]["description"]
    assert "413" in paths["/api/conversions/batch"]["post"]["responses"]


def test_the_limits_enforced_are_the_ones_the_openapi_declares(client):
    paths = client.get("/openapi.json").json()["paths"]
    declared = {
        path: operation[BODY_LIMIT_KEY]
        for path, operations in paths.items()
        for operation in operations.values()
        if BODY_LIMIT_KEY in operation
    }
    assert declared == {
        "/api/conversions": MAX_BODY_BYTES,
        "/api/conversions/batch": MAX_BULK_BODY_BYTES,
        "/api/admin/import": MAX_BULK_BODY_BYTES,
        "/api/refunds": MAX_BODY_BYTES,
        "/api/refunds/batch": MAX_BULK_BODY_BYTES,
    }
    for path, limit in declared.items():
        description = paths[path]["post"]["requestBody"]["description"]
        assert f"at most {limit // 1024} KB" in description, path
        assert client.post(path, content=b" " * (limit + 1)).status_code == 413, path


def test_a_new_route_declaring_a_larger_body_gets_that_limit(settings):
    app = create_app(settings)
    router = APIRouter()
    limit = 3 * MAX_BODY_BYTES

    @router.post("/api/example/{kind}", openapi_extra=json_request_body({}, limit=limit))
    async def take(kind: str, request: Request) -> dict[str, int]:
        """Read the whole body."""
        return {"bytes": len(await request.body())}

    app.include_router(router)
    with TestClient(app) as client:
        body = b" " * limit
        assert client.post("/api/example/a", content=body).json() == {"bytes": limit}
        refused = client.post("/api/example/a", content=chunks(limit + 1))
        assert refused.status_code == 413
        assert "larger than 192 KB" in refused.json()["detail"]["message"]
        # Other paths keep the default.
        other = client.post("/api/conversions", content=b" " * (MAX_BODY_BYTES + 1))
        assert other.status_code == 413


# -- rate limit --------------------------------------------------------------------------


def test_bucket_allows_the_burst_then_refills_at_the_rate():
    clock = FakeClock()
    limiter = TokenBucketLimiter(rate=2, burst=3, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("a") == 1  # half a second to the next token: at least 1 s
    assert limiter.take("b") == 0  # another address has its own bucket
    clock.now += 0.5
    assert limiter.take("a") == 0
    assert limiter.take("a") >= 1


def test_retry_after_is_whole_seconds_rounded_up():
    clock = FakeClock()
    limiter = TokenBucketLimiter(rate=0.25, burst=1, clock=clock)
    assert limiter.take("a") == 0
    assert limiter.take("a") == 4
    clock.now += 1.5
    assert limiter.take("a") == 3


def test_idle_buckets_are_evicted_and_memory_is_bounded():
    clock = FakeClock()
    limiter = TokenBucketLimiter(rate=10, burst=10, clock=clock, max_buckets=100)
    for i in range(50):
        limiter.take(f"ip{i}")
    clock.now += 1.0  # every bucket is full again: forgetting them changes nothing
    limiter.take("new")
    assert len(limiter) == 1
    for i in range(500):
        limiter.take(f"busy{i}")
    assert len(limiter) <= 100


@pytest.fixture
def limited(settings: Settings) -> Iterator[tuple[TestClient, FakeClock]]:
    app = create_app(settings.model_copy(update={"rate_limit_per_ip": 1, "rate_limit_burst": 2}))
    clock = FakeClock()
    app.state.rate_limiter = TokenBucketLimiter(1, 2, clock=clock)
    with TestClient(app, client=("203.0.113.9", 4000)) as c:
        yield c, clock


def test_public_write_endpoints_answer_429_with_retry_after(limited, settings):
    client, clock = limited
    assert client.get("/c/nope").status_code == 404
    assert client.post("/api/conversions", content=b"{}").status_code == 422
    for method, path in [("POST", "/api/conversions"), ("POST", "/api/conversions/batch")]:
        resp = client.request(method, path, content=b"{}")
        assert resp.status_code == 429
        assert resp.headers["Retry-After"] == "1"
        assert resp.json()["detail"]["code"] == "rate_limited"
    assert client.get("/c/nope", follow_redirects=False).status_code == 429
    # Reads, health and the script are not limited.
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/conversions/script").status_code == 200
    clock.now += 1.0
    assert client.post("/api/conversions", content=b"{}").status_code == 422


def test_zero_turns_the_limit_off(settings):
    app = create_app(settings.model_copy(update={"rate_limit_per_ip": 0, "rate_limit_burst": 1}))
    assert app.state.rate_limiter is None
    with TestClient(app) as client:
        assert all(
            client.post("/api/conversions", content=b"{}").status_code == 422 for _ in range(5)
        )
