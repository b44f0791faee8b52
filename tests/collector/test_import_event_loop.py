"""The admin import leaves the event loop free: redirects are answered while it works."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading

import httpx

from collector.app import create_app
from collector.routes import admin
from collector.validation.rules import MAX_BULK_BODY_BYTES
from tests.collector.conftest import ADMIN, read_stream, uuid7_at

HEADERS = {"Authorization": f"Bearer {ADMIN}"}


def _import_body(link_id: str, n: int) -> bytes:
    clicked = dt.datetime(2026, 9, 1, 8, 0)
    rows = [
        {
            "tracking_id": uuid7_at(clicked + dt.timedelta(seconds=i)),
            "campaign_link_id": link_id,
            "event_type": "purchase",
            "revenue_amount": "19.99",
            "order_id": f"o-{i}",
            "event_data": {"plan": "pro", "seats": i % 7},
            "converted_at": "2026-09-02T10:00:00Z",
        }
        for i in range(n)
    ]
    return json.dumps({"conversions": rows}).encode()


def test_a_redirect_sent_during_an_import_is_answered_before_the_import(settings, monkeypatch):
    app = create_app(settings)
    parsing = threading.Event()
    redirect_answered = threading.Event()
    parse = admin.parse_object_body
    answered_during_parse: list[bool] = []

    def parse_held_until_the_redirect_is_answered(raw: bytes) -> dict:
        parsing.set()
        # Were this on the event loop, the redirect could not be answered meanwhile: the
        # wait would give up (False) with the redirect still waiting.
        answered_during_parse.append(redirect_answered.wait(timeout=30))
        return parse(raw)

    monkeypatch.setattr(admin, "parse_object_body", parse_held_until_the_redirect_is_answered)
    finished: list[str] = []

    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://collector") as c:
                link = await c.post(
                    "/api/campaign-links",
                    json={"short_code": "launch", "destination_url": "https://example.com/"},
                    headers=HEADERS,
                )
                assert link.status_code == 201, link.text
                body = _import_body(link.json()["campaign_link_id"], 3500)
                assert 800_000 < len(body) <= MAX_BULK_BODY_BYTES  # near the most an import may be

                async def do_import() -> httpx.Response:
                    resp = await c.post("/api/admin/import", content=body, headers=HEADERS)
                    finished.append("import")
                    return resp

                async def do_redirect() -> httpx.Response:
                    await asyncio.to_thread(parsing.wait, 30)
                    resp = await c.get("/c/launch")
                    finished.append("redirect")
                    redirect_answered.set()
                    return resp

                return await asyncio.gather(do_import(), do_redirect())

    imported, redirected = asyncio.run(scenario())
    assert imported.status_code == 200, imported.text
    assert redirected.status_code == 302
    assert answered_during_parse == [True]
    assert finished == ["redirect", "import"]
    assert imported.json()["accepted"] == {"clicks": 0, "conversions": 3500, "refunds": 0}
    assert len(read_stream(settings, "conversions")) == 3500
    assert len(read_stream(settings, "clicks")) == 1
