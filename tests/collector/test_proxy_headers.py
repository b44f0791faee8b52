"""X-Forwarded-For is believed only from the proxies CONVTRACK_FORWARDED_ALLOW_IPS names,
through a real `convtrack serve` (uvicorn believed it from loopback by default)."""

from __future__ import annotations

from pathlib import Path

import pytest

from convtrack.core.settings import Settings
from tests.collector.conftest import read_stream
from tests.conftest import start_collector, stop_collector

FORWARDED = "203.0.113.9"


def _clicks_through(tmp_path: Path, addresses: list[str], **env: str) -> tuple[list[int], list]:
    """Redirect statuses for one click per X-Forwarded-For address, and the stored IPs."""
    data_dir = tmp_path / "data"
    collector = start_collector(
        data_dir,
        tmp_path / "collector.log",
        CONVTRACK_RATE_LIMIT_PER_IP="0.001",  # no refill during the test: the burst decides
        CONVTRACK_RATE_LIMIT_BURST="2",
        **env,
    )
    try:
        with collector.admin() as admin:
            resp = admin.post(
                "/api/campaign-links",
                json={"short_code": "p", "destination_url": "https://creator.example/"},
            )
            assert resp.status_code == 201, resp.text
            statuses = [
                admin.get(
                    "/c/p", headers={"X-Forwarded-For": address}, follow_redirects=False
                ).status_code
                for address in addresses
            ]
    finally:
        stop_collector(collector)
    ips = [c["ip_address"] for c in read_stream(Settings(data_dir=data_dir), "clicks")]
    return statuses, ips


def test_forwarded_for_is_ignored_by_default(tmp_path):
    # A client rotating X-Forwarded-For neither escapes the rate limit nor picks its network.
    statuses, ips = _clicks_through(tmp_path, [FORWARDED, "198.51.100.1", "192.0.2.1"])
    assert statuses == [302, 302, 429]
    assert ips == ["127.0.0.0", "127.0.0.0"]


def test_forwarded_for_is_believed_from_a_named_proxy(tmp_path):
    statuses, ips = _clicks_through(
        tmp_path,
        [FORWARDED, "198.51.100.1", FORWARDED, "198.51.100.1"],
        CONVTRACK_FORWARDED_ALLOW_IPS="127.0.0.1",
    )
    # Each forwarded client has its own bucket of two.
    assert statuses == [302, 302, 302, 302]
    assert sorted(ips) == ["198.51.100.0", "198.51.100.0", "203.0.113.0", "203.0.113.0"]


@pytest.mark.parametrize("value", ["10.0.0.1,not-an-ip", "300.1.1.1", "10.0.0.0/33"])
def test_a_bad_proxy_list_fails_at_start_naming_the_setting(value):
    with pytest.raises(ValueError, match="CONVTRACK_FORWARDED_ALLOW_IPS"):
        Settings(forwarded_allow_ips=value)


def test_proxy_list_accepts_addresses_networks_and_any():
    settings = Settings(forwarded_allow_ips=" 10.0.0.1, 10.1.0.0/16 ,::1,* ")
    assert settings.trusted_proxies == ["10.0.0.1", "10.1.0.0/16", "::1", "*"]
