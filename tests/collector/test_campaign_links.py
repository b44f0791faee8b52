"""Campaign links: create, list, disable; versions on disk; the registry rebuilt from them."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import pyarrow as pa
import pytest
import uuid_utils
from fastapi.testclient import TestClient

from collector import links as links_module
from collector.app import create_app
from collector.clock import utc_now
from collector.links import LinkRegistry
from collector.storage import ParquetRawEventStore
from collector.validation.rules import (
    MAX_CAMPAIGN_NAME_CHARS,
    MAX_PLACEMENT_CHARS,
    MAX_URL_CHARS,
    MAX_VIDEO_ID_CHARS,
)
from convtrack.core.raw_schema import CAMPAIGN_LINKS
from tests.collector.conftest import read_stream


def test_create_returns_the_link_and_records_a_version(client, settings, link):
    assert link["short_code"] == "launch"
    assert link["short_url"] == f"{settings.public_url}/c/launch"
    assert link["disabled"] is False
    (row,) = read_stream(settings, "campaign_links")
    assert row["campaign_link_id"] == link["campaign_link_id"]
    assert row["destination_url"] == link["destination_url"]
    assert row["youtube_video_id"] == "dQw4w9WgXcQ"
    assert row["disabled_at"] is None


def test_taken_short_code_is_409(client, link, admin_headers):
    resp = client.post(
        "/api/campaign-links",
        json={"short_code": "launch", "destination_url": "https://other.example/"},
        headers=admin_headers,
    )
    assert resp.status_code == 409
    assert resp.json()["detail"]["code"] == "short_code_taken"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (
            {"short_code": "a b", "destination_url": "https://e.com"},
            "invalid_short_code",
            "short_code",
        ),
        (
            {"short_code": "", "destination_url": "https://e.com"},
            "invalid_short_code",
            "short_code",
        ),
        ({"short_code": "ok", "destination_url": "ftp://e.com"}, "invalid_url", "destination_url"),
        ({"short_code": "ok", "destination_url": "/relative"}, "invalid_url", "destination_url"),
        (
            {"short_code": "ok", "destination_url": "https://e.com/a b"},
            "invalid_url",
            "destination_url",
        ),
        ({"short_code": "ok"}, "invalid_body", "destination_url"),
        ({"short_code": 5, "destination_url": "https://e.com"}, "invalid_body", "short_code"),
    ],
)
def test_bad_links_are_422(client, settings, admin_headers, body, code, field):
    resp = client.post("/api/campaign-links", json=body, headers=admin_headers)
    assert resp.status_code == 422
    assert (resp.json()["detail"]["code"], resp.json()["detail"]["field"]) == (code, field)
    assert read_stream(settings, "campaign_links") == []


def test_list_and_disable(client, settings, link, admin_headers):
    listed = client.get("/api/campaign-links", headers=admin_headers).json()
    assert [x["campaign_link_id"] for x in listed] == [link["campaign_link_id"]]
    url = f"/api/campaign-links/{link['campaign_link_id']}"
    assert client.patch(url, json={"disabled": True}, headers=admin_headers).json()["disabled"]
    versions = read_stream(settings, "campaign_links")
    assert [v["disabled_at"] is None for v in versions] == [True, False]
    listed = client.get("/api/campaign-links", headers=admin_headers).json()
    assert listed[0]["disabled"] is True


def test_patch_unknown_link_is_404(client, admin_headers):
    resp = client.patch(
        "/api/campaign-links/01a212cd-fcab-74e8-bbb7-203e94aeca9b",
        json={"disabled": True},
        headers=admin_headers,
    )
    assert resp.status_code == 404


def test_a_restarted_collector_knows_the_links_from_disk(client, settings, link, admin_headers):
    url = f"/api/campaign-links/{link['campaign_link_id']}"
    client.patch(url, json={"disabled": True}, headers=admin_headers)
    with TestClient(create_app(settings)) as restarted:
        listed = restarted.get("/api/campaign-links", headers=admin_headers).json()
        assert [(x["short_code"], x["disabled"]) for x in listed] == [("launch", True)]
        assert restarted.get("/c/launch", follow_redirects=False).status_code == 404


def test_a_link_written_by_another_collector_is_found(settings, admin_headers):
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)) as second:
        second.get("/api/campaign-links", headers=admin_headers)  # started before the link
        first.post(
            "/api/campaign-links",
            json={"short_code": "elsewhere", "destination_url": "https://e.com/"},
            headers=admin_headers,
        )
        assert second.get("/c/elsewhere", follow_redirects=False).status_code == 302


def refused_link(client, admin_headers, body: dict, code: str, field: str) -> dict:
    """POST `body` as JSON text (a lone surrogate travels as its "\ud800" escape); the
    422's problem."""
    resp = client.post(
        "/api/campaign-links",
        content=json.dumps(body),
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert resp.status_code == 422, resp.text
    detail = resp.json()["detail"]
    assert (detail["code"], detail["field"]) == (code, field)
    return detail


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://good.example\\@evil.example/", "backslash"),
        ("https://good.example\\evil.example/", "backslash"),
        ("https://user:password@good.example/", "user or password"),
        ("https://user@good.example/", "user or password"),
        ("https://good.example@evil.example/", "user or password"),
        ("https://good.example:99999/", "port"),
        ("https://good.example:0/", "port"),
        ("https://good.example:-1/", "port"),
        ("http://[::1", "host"),
        ("http://[::zz]/", "host"),
        ("https://bad_host-.example/", "host"),
        ("https://a..b/", "host"),
        ("https:///no-host", "host"),
        ("https://e.com/\x00", "control"),
        ("https://e.com/\ud800", "surrogate"),
        ("https://e.com/" + "a" * 2048, "longer than"),
    ],
)
def test_ambiguous_or_broken_destinations_are_refused(client, settings, admin_headers, url, reason):
    body = {"short_code": "ok", "destination_url": url}
    detail = refused_link(client, admin_headers, body, "invalid_url", "destination_url")
    assert reason in detail["message"]
    assert read_stream(settings, "campaign_links") == []


@pytest.mark.parametrize(
    "url",
    [
        "https://bücher.example/kurs?x=1#preise",
        "https://xn--bcher-kva.example/",
        "http://[::1]:8080/landing",
        "http://127.0.0.1:3000/",
        "https://example.com.:443/path",
        "https://e.com/" + "a" * (MAX_URL_CHARS - len("https://e.com/")),
    ],
)
def test_plain_destinations_are_accepted(client, admin_headers, url):
    resp = client.post(
        "/api/campaign-links",
        json={"short_code": "ok", "destination_url": url},
        headers=admin_headers,
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["destination_url"] == url


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("campaign_name", MAX_CAMPAIGN_NAME_CHARS),
        ("youtube_video_id", MAX_VIDEO_ID_CHARS),
        ("placement", MAX_PLACEMENT_CHARS),
    ],
)
@pytest.mark.parametrize("problem", ["too_long", "surrogate"])
def test_link_text_fields_are_bounded_and_storable(
    client, settings, admin_headers, field, limit, problem
):
    value = "x" * (limit + 1) if problem == "too_long" else "ok\udfff"
    body = {"short_code": "ok", "destination_url": "https://e.com/", field: value}
    refused_link(client, admin_headers, body, "invalid_text", field)
    assert read_stream(settings, "campaign_links") == []
    # At the limit the value is kept whole.
    resp = client.post(
        "/api/campaign-links",
        json={"short_code": "ok", "destination_url": "https://e.com/", field: "x" * limit},
        headers=admin_headers,
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()[field] == "x" * limit


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def scans(monkeypatch) -> list[Path]:
    """The link directory scans the registry makes, as they happen."""
    seen: list[Path] = []
    real_signature = links_module._files_signature
    monkeypatch.setattr(
        links_module, "_files_signature", lambda d: seen.append(d) or real_signature(d)
    )
    return seen


def test_unknown_ids_do_not_rescan_the_disk_on_every_lookup(settings, scans):
    clock = FakeClock()
    registry = LinkRegistry(settings.raw_dir, store=None, clock=clock)

    async def scenario() -> None:
        await registry.refresh()
        scans.clear()
        for _ in range(200):
            assert str(uuid_utils.uuid4()) not in registry  # memory only, never the disk
            assert await registry.find_by_short_code("nope") is None
        assert len(scans) == 1

        # Another process registers a link: a miss finds it once the interval has passed.
        now = utc_now()
        link = links_module.CampaignLink(
            str(uuid_utils.uuid7()), "elsewhere", "https://e.com/", None, None, None, now, None, now
        )
        ParquetRawEventStore(settings.raw_dir).write_table(
            "campaign_links", pa.Table.from_pylist([link.row()], schema=CAMPAIGN_LINKS)
        )
        assert await registry.find_by_short_code("elsewhere") is None
        clock.now += links_module.MISS_REFRESH_INTERVAL_S
        assert await registry.find_by_short_code("elsewhere") == link
        assert link.campaign_link_id in registry
        assert len(scans) == 2
        # Admin paths read at once: refresh() scans whatever the clock says.
        await registry.refresh()
        assert len(scans) == 3

    asyncio.run(scenario())


def test_a_link_disabled_by_another_process_stops_redirecting_after_a_background_read(
    settings, scans
):
    """Another worker disables a link this one holds in memory: a redirect that finds it
    answers at once and re-reads in the background, at most once per interval."""
    clock = FakeClock()
    registry = LinkRegistry(settings.raw_dir, store=None, clock=clock)
    now = utc_now()
    enabled = links_module.CampaignLink(
        str(uuid_utils.uuid7()), "shop", "https://e.com/", None, None, None, now, None, now
    )
    later = utc_now()
    disabled = dataclasses.replace(enabled, disabled_at=later, recorded_at=later)
    elsewhere = ParquetRawEventStore(settings.raw_dir)

    async def background_reads() -> None:
        for task in [t for t in asyncio.all_tasks() if t.get_name() == "links-refresh"]:
            await task

    async def scenario() -> None:
        elsewhere.write_table(
            "campaign_links", pa.Table.from_pylist([enabled.row()], schema=CAMPAIGN_LINKS)
        )
        await registry.refresh()
        elsewhere.write_table(
            "campaign_links", pa.Table.from_pylist([disabled.row()], schema=CAMPAIGN_LINKS)
        )
        scans.clear()
        assert await registry.find_by_short_code("shop") == enabled  # memory, at once
        await background_reads()
        assert await registry.find_by_short_code("shop") == disabled
        assert len(scans) == 1
        for _ in range(100):  # within the interval: no more reads
            await registry.find_by_short_code("shop")
            await background_reads()
        assert len(scans) == 1
        clock.now += links_module.HIT_REFRESH_INTERVAL_S
        await registry.find_by_short_code("shop")
        await background_reads()
        assert len(scans) == 2

    asyncio.run(scenario())


def test_a_link_the_store_did_not_write_where_the_registry_reads_is_an_error(settings):
    class StoreThatLosesLinks:
        async def append(self, stream: str, rows: list[dict]) -> None:
            pass

    registry = LinkRegistry(settings.raw_dir, store=StoreThatLosesLinks())

    async def create() -> None:
        await registry.create(short_code="lost", destination_url="https://e.com/")

    with pytest.raises(links_module.LinkNotReadBack, match="was stored but is not in"):
        asyncio.run(create())
