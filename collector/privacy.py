"""What the collector keeps of a visitor's address: the network, not the host, unless
CONVTRACK_STORE_FULL_IP says otherwise (docs/operations.md)."""

from __future__ import annotations

import functools
import ipaddress

import polars as pl

# Enough to tell countries and providers apart, not people.
IPV4_PREFIX = 24
IPV6_PREFIX = 48


# Every click and every access log line asks: the few addresses seen lately are answered
# from memory (parsing an address was 1.4 % of a conversion's CPU, profiled).
@functools.lru_cache(maxsize=16_384)
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


# Dotted-quad IPv4 text exactly as `ipaddress` accepts it: four decimal octets of at most
# 255, no leading zeros. Such text is its own canonical form.
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"^{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}$"
# What the network address keeps of a dotted quad: its first octets, the rest zero.
_IPV4_KEPT = rf"^((?:[0-9]+\.){{{IPV4_PREFIX // 8}}})"
_IPV4_ZEROS = ".".join(["0"] * (4 - IPV4_PREFIX // 8))


def truncate_ips(ips: pl.Series, *, store_full_ip: bool) -> pl.Series:
    """`truncate_ip` over a column: dotted quads in Polars, any other text once per value."""
    assert IPV4_PREFIX % 8 == 0  # so a dotted quad's network address is a textual cut
    frame = pl.DataFrame({"ip": ips})
    ip = pl.col("ip")
    quad = ip.str.contains(_IPV4)
    others = frame.filter(~quad)["ip"].drop_nulls().unique()
    mapping = {text: truncate_ip(text, store_full_ip=store_full_ip) for text in others}
    network = ip if store_full_ip else ip.str.extract(_IPV4_KEPT, 1) + _IPV4_ZEROS
    truncated = pl.when(quad).then(network)
    if mapping:
        truncated = truncated.otherwise(
            ip.replace_strict(mapping, default=None, return_dtype=pl.String)
        )
    return frame.select(truncated).to_series().alias(ips.name)
