"""The import's batch-at-a-time helpers give exactly what their one-value-at-a-time
originals give: event ids, kept IP addresses, parsed JSON lines."""

from __future__ import annotations

import json
from decimal import Decimal

import polars as pl
import uuid_utils
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.ingest.event_ids import IMPORT_NAMESPACE, deterministic_ids
from collector.jsontext import parse_json, parse_json_lines
from collector.privacy import truncate_ip, truncate_ips

octets = st.one_of(
    st.integers(0, 300).map(str), st.sampled_from(["00", "01", "010", "0x1", " 1", "\uff11"])
)
addresses = st.one_of(
    st.lists(octets, min_size=3, max_size=5).map(".".join),
    st.ip_addresses().map(str),
    st.ip_addresses(v=6).map(lambda a: str(a).upper()),
    st.sampled_from(["", "::ffff:10.1.2.3", "1.2.3.4\n", "1.2.3.4 ", "fe80::1%eth0", "localhost"]),
    st.text(max_size=12),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), addresses), max_size=30), st.booleans())
def test_ip_addresses_are_kept_as_truncate_ip_keeps_them(ips, full):
    kept = truncate_ips(pl.Series("ip_address", ips, dtype=pl.String), store_full_ip=full)
    assert kept.to_list() == [truncate_ip(ip, store_full_ip=full) for ip in ips]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(st.characters(codec="utf-8")), max_size=30))
def test_event_ids_are_the_uuid5_of_each_key(keys):
    ids = deterministic_ids(pl.Series("key", keys, dtype=pl.String))
    assert ids.to_list() == [str(uuid_utils.uuid5(IMPORT_NAMESPACE, k)) for k in keys]


# JSON values whose exact reading orjson could miss: non-integers, huge integers, the
# same key twice, floats nested or under an escaped key, lone surrogates, deep nesting.
numbers = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.integers().map(str),
    st.sampled_from(
        ["1.50", "1E400", "-0.0", "1e-7", "18446744073709551616", "0.10000000000000000001"]
    ),
)
scalars = st.one_of(
    numbers,
    st.text(max_size=6).map(lambda s: json.dumps(s, ensure_ascii=False)),
    st.sampled_from(['"\\ud800"', '"\\u00e9"', "true", "null", '"a\\"b"']),
)
keys = st.sampled_from(
    ['"revenue_amount"', '"order_id"', '"event_data"', '"revenue\\u005famount"', '"é"']
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: "[" + ",".join(xs) + "]"),
        st.lists(st.tuples(keys, inner), max_size=3).map(
            lambda kv: "{" + ",".join(f"{k}:{v}" for k, v in kv) + "}"
        ),
    ),
    max_leaves=6,
)
lines = st.one_of(
    st.lists(st.tuples(keys, values), max_size=4).map(
        lambda kv: "{" + " , ".join(f"{k} : {v}" for k, v in kv) + "}"
    ),
    values,
    st.sampled_from(
        ["", "{", "\ufeff{}", "[" * 1005 + "]" * 1005, '{"a":' + "[" * 995 + "]" * 995 + "}"]
    ),
)


def _exactly(value: object) -> str:
    # repr tells Decimal("1.50") from Decimal("1.5"), which == does not.
    return repr(value)


def _parse_or_none(raw: bytes) -> object:
    try:
        return parse_json(raw)
    except (ValueError, RecursionError):
        return None


@settings(max_examples=300, deadline=None)
@given(st.lists(lines, min_size=1, max_size=8))
def test_json_lines_are_read_as_parse_json_reads_them(texts):
    raw = [t.encode("utf-8", "surrogatepass") + b"\n" for t in texts]
    assert [_exactly(v) for v in parse_json_lines(raw)] == [
        _exactly(_parse_or_none(r)) for r in raw
    ]


def test_a_float_is_read_from_its_own_text():
    raw = [b'{"revenue_amount": 19.990, "x": "revenue_amount"}', b'{"revenue_amount": 1e400}']
    assert parse_json_lines(raw) == [
        {"revenue_amount": Decimal("19.990"), "x": "revenue_amount"},
        {"revenue_amount": Decimal("1E+400")},
    ]
    assert str(parse_json_lines(raw)[0]["revenue_amount"]) == "19.990"
