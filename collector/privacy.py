"""What the collector keeps of a visitor's address: the network, not the host, unless
CONVTRACK_STORE_FULL_IP says otherwise (docs/operations.md)."""

from __future__ import annotations

import ipaddress

# Enough to tell countries and providers apart, not people.
IPV4_PREFIX = 24
IPV6_PREFIX = 48


def truncate_ip(ip: str | None, *, store_full_ip: bool) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) network address of `ip`; the address itself if allowed."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None  # not an address (e.g. a test client's name): nothing worth keeping
    if store_full_ip:
        return str(address)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    prefix = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)
