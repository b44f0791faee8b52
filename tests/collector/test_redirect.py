"""GET/HEAD /c/{short_code}: the click on disk and the attributed redirect."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from collector.privacy import truncate_ip
from collector.routes.redirect import with_attribution
from collector.validation.rules import MAX_REFERRER_CHARS, MAX_USER_AGENT_CHARS
from collector.validation.scalar import uuid7_time
from tests.collector.conftest import read_stream


def test_get_records_a_click_and_redirects_with_attribution(client, settings, link):
    resp = client.get(
        "/c/launch",
        follow_redirects=False,
        headers={"User-Agent": "Mozilla/5.0 test", "Referer": "https://www.youtube.com/"},
    )
    assert resp.status_code == 302
    location = urlsplit(resp.headers["location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "example.com", "/course")
    assert location.fragment == "pricing"
    # The destination's own parameters come first and unchanged.
    assert location.query.startswith("utm_source=yt&x=a%20b&")
    query = parse_qs(location.query)
    assert query["ct_campaign_link_id"] == [link["campaign_link_id"]]
    tracking_id = query["ct_tracking_id"][0]

    (click,) = read_stream(settings, "clicks")
    assert click["tracking_id"] == tracking_id
    assert click["campaign_link_id"] == link["campaign_link_id"]
    assert click["clicked_at"] == click["received_at"]
    # The tracking id is a UUIDv7 minted at the click.
    assert abs((uuid7_time(tracking_id) - click["clicked_at"]).total_seconds()) < 1
    assert click["user_agent"] == "Mozilla/5.0 test"
    assert click["referrer"] == "https://www.youtube.com/"
    assert click["source"] == "redirect"
    # TestClient's peer is not an IP address, so nothing of it is kept.
    assert click["ip_address"] is None


def test_each_click_gets_its_own_tracking_id(client, settings, link):
    ids = {
        parse_qs(
            urlsplit(client.get("/c/launch", follow_redirects=False).headers["location"]).query
        )["ct_tracking_id"][0]
        for _ in range(3)
    }
    assert len(ids) == 3
    assert {c["tracking_id"] for c in read_stream(settings, "clicks")} == ids


def test_head_redirects_but_records_nothing(client, settings, link):
    resp = client.head("/c/launch", follow_redirects=False)
    assert resp.status_code == 302
    assert "ct_tracking_id=" in resp.headers["location"]
    assert read_stream(settings, "clicks") == []


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_unknown_code_is_a_404_page(client, settings, method):
    resp = client.request(method, "/c/nope", follow_redirects=False)
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("text/html")
    assert read_stream(settings, "clicks") == []


def test_disabled_link_is_a_404_page(client, settings, link, admin_headers):
    resp = client.patch(
        f"/api/campaign-links/{link['campaign_link_id']}",
        json={"disabled": True},
        headers=admin_headers,
    )
    assert resp.status_code == 200 and resp.json()["disabled"] is True
    assert client.get("/c/launch", follow_redirects=False).status_code == 404
    assert read_stream(settings, "clicks") == []


def test_stale_attribution_parameters_in_the_destination_are_replaced():
    url = with_attribution("https://e.com/?ct_tracking_id=old&a=1", "T", "L")
    assert parse_qs(urlsplit(url).query) == {
        "a": ["1"],
        "ct_tracking_id": ["T"],
        "ct_campaign_link_id": ["L"],
    }


@pytest.mark.parametrize(
    ("ip", "full", "kept"),
    [
        ("203.0.113.77", False, "203.0.113.0"),
        ("203.0.113.77", True, "203.0.113.77"),
        ("2001:db8:abcd:1234::1", False, "2001:db8:abcd::"),
        ("::ffff:198.51.100.9", False, "198.51.100.0"),
        ("testclient", False, None),
        (None, False, None),
    ],
)
def test_ip_truncation(ip, full, kept):
    assert truncate_ip(ip, store_full_ip=full) == kept


@pytest.mark.parametrize("size", [0, 1, 1024, 1025, 60_000, 17 * 1024 * 1024])
def test_user_agent_and_referrer_are_truncated_to_their_bounds(client, settings, link, size):
    user_agent, referrer = "u" * size, "https://r.example/" + "r" * size
    resp = client.get(
        "/c/launch", follow_redirects=False, headers={"User-Agent": user_agent, "Referer": referrer}
    )
    assert resp.status_code == 302
    (click,) = read_stream(settings, "clicks")
    assert click["user_agent"] == user_agent[:MAX_USER_AGENT_CHARS]
    assert click["referrer"] == referrer[:MAX_REFERRER_CHARS]
