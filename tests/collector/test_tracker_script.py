"""GET /api/conversions/script: the tracker, pointed at PUBLIC_URL, cacheable."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from collector.app import create_app
from collector.routes.tracker import etag_matches
from collector.validation.rules import MAX_TOUCHES
from convtrack.core.settings import Settings


def test_script_is_javascript_cacheable_and_points_at_public_url(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", public_url="https://go.creator.example/")
    with TestClient(create_app(settings)) as client:
        resp = client.get("/api/conversions/script", headers={"Host": "evil.example"})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/javascript")
    assert resp.headers["cache-control"] == "public, max-age=3600"
    assert resp.headers["etag"].startswith('"') and resp.headers["etag"].endswith('"')
    assert '"https://go.creator.example"' in resp.text
    assert "evil.example" not in resp.text
    assert "__CONVTRACK_COLLECTOR_URL__" not in resp.text
    assert "CampaignTracker" in resp.text


def test_script_keeps_the_collectors_touch_bound_and_window(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", attribution_window_days=12)
    with TestClient(create_app(settings)) as client:
        script = client.get("/api/conversions/script").text
    assert f"var MAX_TOUCHES = {MAX_TOUCHES};" in script
    assert "var TOUCH_WINDOW_DAYS = 12;" in script
    assert "__CONVTRACK_" not in script


def test_script_keeps_touches_as_long_as_the_longest_link_window(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", admin_token="a" * 32)
    admin = {"Authorization": f"Bearer {'a' * 32}"}
    with TestClient(create_app(settings)) as client:
        before = client.get("/api/conversions/script")
        for code, days in [("short", 7), ("long", 60)]:
            link = {"short_code": code, "destination_url": "https://creator.example/"}
            resp = client.post(
                "/api/campaign-links", json={**link, "attribution_window_days": days}, headers=admin
            )
            assert resp.status_code == 201, resp.text
        after = client.get("/api/conversions/script")
    assert f"var TOUCH_WINDOW_DAYS = {settings.attribution_window_days};" in before.text
    assert "var TOUCH_WINDOW_DAYS = 60;" in after.text
    assert after.headers["etag"] != before.headers["etag"]


def test_if_none_match_gives_304_and_a_new_url_a_new_etag(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path / "a", public_url="https://a.example")
    second = Settings(data_dir=tmp_path / "b", public_url="https://b.example")
    with TestClient(create_app(first)) as client:
        etag = client.get("/api/conversions/script").headers["etag"]
        cached = client.get("/api/conversions/script", headers={"If-None-Match": etag})
        stale = client.get("/api/conversions/script", headers={"If-None-Match": '"old"'})
    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["etag"] == etag
    assert stale.status_code == 200
    with TestClient(create_app(second)) as client:
        assert client.get("/api/conversions/script").headers["etag"] != etag


def test_etag_matching_follows_rfc_9110() -> None:
    assert etag_matches('"x", "abc"', '"abc"')
    assert etag_matches('W/"abc"', '"abc"')
    assert etag_matches("*", '"abc"')
    assert not etag_matches('"abcd"', '"abc"')
    assert not etag_matches(None, '"abc"')
