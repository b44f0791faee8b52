"""The link registry reads its files off the event loop: a lookup that misses waits for
its re-read while other requests are answered, and still finds the links another
process registered a moment ago."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pyarrow as pa
import uuid_utils

from collector import links as links_module
from collector.app import create_app
from collector.clock import utc_now
from collector.links import CampaignLink
from collector.storage import ParquetRawEventStore
from convtrack.core.raw_schema import CAMPAIGN_LINKS
from tests.collector.conftest import ADMIN, read_stream

HEADERS = {"Authorization": f"Bearer {ADMIN}"}


def register_elsewhere(settings, short_code: str, destination: str = "https://e.com/"):
    """A link written the way another collector or the CLI writes it, unknown to this one."""
    now = utc_now()
    link = CampaignLink(
        str(uuid_utils.uuid7()), short_code, destination, None, None, None, now, None, now
    )
    ParquetRawEventStore(settings.raw_dir).write_table(
        "campaign_links", pa.Table.from_pylist([link.row()], schema=CAMPAIGN_LINKS)
    )
    return link


def conversion(link: CampaignLink) -> dict:
    return {
        "tracking_id": str(uuid_utils.uuid7()),
        "campaign_link_id": link.campaign_link_id,
        "event_type": "newsletter_signup",
    }


def test_a_redirect_is_answered_while_a_miss_reads_the_link_files(settings, monkeypatch):
    app = create_app(settings)
    scanning = threading.Event()
    redirect_answered = threading.Event()
    answered_during_scan: list[bool] = []
    scan = links_module._files_signature

    def scan_held_until_the_redirect_is_answered(raw_dir):
        scanning.set()
        # Were this on the event loop, the redirect could not be answered meanwhile: the
        # wait would give up (False) with the redirect still waiting.
        answered_during_scan.append(redirect_answered.wait(timeout=30))
        return scan(raw_dir)

    finished: list[str] = []

    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://collector") as c:
                created = await c.post(
                    "/api/campaign-links",
                    json={"short_code": "launch", "destination_url": "https://example.com/"},
                    headers=HEADERS,
                )
                assert created.status_code == 201, created.text
                monkeypatch.setattr(
                    links_module, "_files_signature", scan_held_until_the_redirect_is_answered
                )

                async def unknown_code() -> httpx.Response:
                    resp = await c.get("/c/not-yet")
                    finished.append("miss")
                    return resp

                async def known_code() -> httpx.Response:
                    await asyncio.to_thread(scanning.wait, 30)
                    resp = await c.get("/c/launch")
                    finished.append("hit")
                    redirect_answered.set()
                    return resp

                return await asyncio.gather(unknown_code(), known_code())

    missed, redirected = asyncio.run(scenario())
    # The miss's read waited for the redirect. The re-read the hit starts in the
    # background (collector/links.py, HIT_REFRESH_INTERVAL_S) queues behind it and may or
    # may not have run before the app stops; it too found the redirect answered.
    assert answered_during_scan in ([True], [True, True])
    assert finished == ["hit", "miss"]
    assert (missed.status_code, redirected.status_code) == (404, 302)
    assert len(read_stream(settings, "clicks")) == 1


def test_links_another_process_registered_are_found_on_the_first_miss(
    client, settings, monkeypatch
):
    monkeypatch.setattr(links_module, "MISS_REFRESH_INTERVAL_S", 0.0)  # every miss re-reads

    by_redirect = register_elsewhere(settings, "from-cli")
    resp = client.get("/c/from-cli", follow_redirects=False)
    assert resp.status_code == 302
    assert by_redirect.campaign_link_id in resp.headers["location"]

    by_conversion = register_elsewhere(settings, "second")
    resp = client.post("/api/conversions", json=conversion(by_conversion))
    assert resp.status_code == 202, resp.text

    by_batch = register_elsewhere(settings, "third")
    resp = client.post("/api/conversions/batch", json={"events": [conversion(by_batch)] * 2})
    assert (resp.json()["accepted"], resp.json()["rejected"]) == (2, 0)

    register_elsewhere(settings, "fourth", destination="https://new-shop.example/offer")
    preflight = client.options(
        "/api/conversions",
        headers={
            "Origin": "https://new-shop.example",
            "Access-Control-Request-Method": "POST",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://new-shop.example"


def test_a_link_unknown_everywhere_is_still_refused(client, settings, monkeypatch):
    monkeypatch.setattr(links_module, "MISS_REFRESH_INTERVAL_S", 0.0)
    nowhere = CampaignLink(
        str(uuid_utils.uuid7()), "nowhere", "https://e.com/", None, None, None, None, None, None
    )
    resp = client.post("/api/conversions", json=conversion(nowhere))
    assert resp.status_code == 422
    assert resp.json()["detail"]["code"] == "unknown_campaign_link"
    assert client.get("/c/nowhere").status_code == 404
