"""CORS (docs/api.md#cors): configured origins, or by default the link destinations'."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient
from starlette.middleware.cors import CORSMiddleware

from collector.app import create_app
from collector.cors import ALLOW_HEADERS, ALLOW_METHODS, QuietCORSMiddleware, origin_of
from convtrack.core.settings import Settings


def preflight(client: TestClient, origin: str):
    return client.options(
        "/api/conversions",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )


def test_link_destination_origins_are_allowed_by_default(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    assert preflight(client, "https://shop.example").status_code == 400  # no link yet
    resp = client.post(
        "/api/campaign-links",
        json={"short_code": "shop", "destination_url": "https://Shop.example:443/p?x=1"},
        headers=admin_headers,
    )
    assert resp.status_code == 201, resp.text

    allowed = preflight(client, "https://shop.example")
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "content-type" in allowed.headers["access-control-allow-headers"].lower()
    for other in ("https://evil.example", "http://shop.example", "https://shop.example:8443"):
        refused = preflight(client, other)
        assert refused.status_code == 400, other
        assert "access-control-allow-origin" not in refused.headers

    # The actual answer (here a refusal) is readable by the allowed origin only.
    body = {"tracking_id": "x", "campaign_link_id": "y", "event_type": "purchase"}
    ok = client.post("/api/conversions", json=body, headers={"Origin": "https://shop.example"})
    assert ok.status_code == 422
    assert ok.headers["access-control-allow-origin"] == "https://shop.example"
    evil = client.post("/api/conversions", json=body, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in evil.headers


def test_configured_origins_replace_the_default(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        admin_token="a",
        cors_origins="https://Landing.example/, http://localhost:3000",
    )
    with TestClient(create_app(settings)) as client:
        resp = client.post(
            "/api/campaign-links",
            json={"short_code": "shop", "destination_url": "https://shop.example/"},
            headers={"Authorization": "Bearer a"},
        )
        assert resp.status_code == 201, resp.text
        assert preflight(client, "https://landing.example").status_code == 200
        assert preflight(client, "http://localhost:3000").status_code == 200
        assert preflight(client, "https://shop.example").status_code == 400


def test_origin_of_serialises_like_a_browser() -> None:
    assert origin_of("https://Shop.Example/path?q=1#f") == "https://shop.example"
    assert origin_of("http://127.0.0.1:8080/x") == "http://127.0.0.1:8080"
    assert origin_of("http://example.com:80/") == "http://example.com"
    assert origin_of("http://[::1]:9000/") == "http://[::1]:9000"
    assert origin_of("https://bücher.example/") == "https://xn--bcher-kva.example"
    assert origin_of("null") is None
    assert origin_of("ftp://example.com/") is None


def cors_app(middleware: type[CORSMiddleware]) -> FastAPI:
    app = FastAPI()

    @app.post("/plain")
    async def plain() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.post("/varying")
    async def varying() -> PlainTextResponse:
        return PlainTextResponse("ok", headers={"Vary": "Accept-Encoding"})

    app.add_middleware(
        middleware,
        allow_origins=["https://shop.example"],
        allow_methods=ALLOW_METHODS,
        allow_headers=ALLOW_HEADERS,
    )
    return app


@pytest.mark.parametrize("origin", [None, "https://shop.example", "https://evil.example"])
@pytest.mark.parametrize("path", ["/plain", "/varying"])
def test_the_quiet_cors_answers_as_starlettes(origin: str | None, path: str) -> None:
    """With or without an Origin, the headers Starlette's CORS would give, `Vary` too."""
    headers = {"Origin": origin} if origin else {}
    answers = []
    for middleware in (QuietCORSMiddleware, CORSMiddleware):
        with TestClient(cors_app(middleware)) as client:
            resp = client.post(path, headers=headers)
            answers.append((resp.status_code, sorted(resp.headers.multi_items()), resp.text))
    assert answers[0] == answers[1]
    assert "Origin" in dict(answers[0][1])["vary"]
