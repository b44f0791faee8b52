"""Hostile input as a class, over HTTP: whatever valid JSON a client sends, the answer is
never a 5xx, a refusal names its field, and the good events of a batch are stored.

Schemathesis cannot send lone surrogates (it encodes strings for the wire itself), so
these tests send JSON text they write: `json.dumps` turns a lone surrogate into its
"\\ud800" escape, which is valid JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import uuid_utils
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.app import create_app
from collector.validation.rules import MAX_ATTRIBUTION_WINDOW_DAYS
from convtrack.core.settings import Settings
from tests.collector.conftest import ADMIN, READER, read_stream
from tests.collector.strategies import (
    LINK,
    events,
    events_with_touches,
    hostile_text,
    wire_text,
)
from tests.collector.test_read_api import SNAPSHOT_SQL, publish

JSON = {"Content-Type": "application/json"}
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}", **JSON}
READ_HEADERS = {"Authorization": f"Bearer {READER}"}
EXAMPLES = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    s = Settings(
        data_dir=tmp_path / "data",
        admin_token=ADMIN,
        read_token=READER,
        rate_limit_per_ip=0,  # thousands of requests from one address
    )
    publish(s.published_path, SNAPSHOT_SQL)  # the read API answers from data, not 503
    return s


@pytest.fixture
def api(app_settings: Settings) -> Iterator[tuple[TestClient, str]]:
    """A collector with one registered link; its id stands in for the strategies' LINK."""
    with TestClient(create_app(app_settings), raise_server_exceptions=False) as client:
        resp = client.post(
            "/api/campaign-links",
            json={"short_code": "hostile", "destination_url": "https://creator.example/"},
            headers=ADMIN_HEADERS,
        )
        assert resp.status_code == 201, resp.text
        yield client, resp.json()["campaign_link_id"]


def with_link(text: str, link_id: str) -> str:
    return text.replace(LINK, link_id).replace(LINK.upper(), link_id.upper())


def assert_refusal_shape(resp) -> None:
    detail = resp.json()["detail"]
    for problem in detail if isinstance(detail, list) else [detail]:
        assert set(problem) == {"code", "field", "message"} and problem["message"]


def test_single_conversions_are_never_a_server_error(api, app_settings):
    client, link_id = api
    stored = len(read_stream(app_settings, "conversions"))

    @EXAMPLES
    @given(event=events)
    def run(event):
        nonlocal stored
        resp = client.post("/api/conversions", content=with_link(wire_text(event), link_id))
        assert resp.status_code in (202, 422), resp.text
        if resp.status_code == 422:
            assert_refusal_shape(resp)
        else:
            stored += 1
        # What was acknowledged is on disk; what was refused is not.
        assert len(read_stream(app_settings, "conversions")) == stored

    run()


def good_event(link_id: str) -> dict:
    return {
        "tracking_id": str(uuid_utils.uuid7()),
        "campaign_link_id": link_id,
        "event_type": "purchase",
        "revenue_amount": "9.99",
    }


@pytest.mark.parametrize("with_touches", [False, True], ids=["plain", "touches"])
def test_a_batch_keeps_its_good_events_whatever_sits_beside_them(api, app_settings, with_touches):
    """With touches, the events beside are hostile in their touches too, and the good
    event has a path of three touches: it is stored with them."""
    client, link_id = api
    beside = events_with_touches() if with_touches else events

    @EXAMPLES
    @given(batch=st.lists(beside, max_size=8), position=st.integers(0, 8))
    def run(batch, position):
        good = good_event(link_id)
        if with_touches:
            earlier = [str(uuid_utils.uuid7()) for _ in range(2)]
            good["touches"] = [
                {"tracking_id": t, "campaign_link_id": link_id}
                for t in [*earlier, good["tracking_id"]]
            ]
        position = min(position, len(batch))
        sent = [*batch[:position], good, *batch[position:]]
        resp = client.post(
            "/api/conversions/batch",
            content=with_link(wire_text({"events": sent}), link_id),
            headers=JSON,
        )
        assert resp.status_code == 202, resp.text
        answer = resp.json()
        assert len(answer["results"]) == len(sent)
        assert answer["results"][position]["status"] == "accepted"
        for result in answer["results"]:
            assert result["status"] == "accepted" or all(e["message"] for e in result["errors"])
        accepted = {r["event_id"] for r in answer["results"] if r["status"] == "accepted"}
        on_disk = {r["event_id"]: r for r in read_stream(app_settings, "conversions")}
        assert accepted <= set(on_disk)
        kept = on_disk[answer["results"][position]["event_id"]]
        # The raw column holds the touches as JSON text.
        assert (kept["touches"] and json.loads(kept["touches"])) == good.get("touches")

    run()


def test_conversions_with_hostile_touches_are_never_a_server_error(api, app_settings):
    client, link_id = api
    stored = len(read_stream(app_settings, "conversions"))

    @EXAMPLES
    @given(event=events_with_touches())
    def run(event):
        nonlocal stored
        resp = client.post("/api/conversions", content=with_link(wire_text(event), link_id))
        assert resp.status_code in (202, 422), resp.text
        if resp.status_code == 202:
            stored += 1
        else:
            assert_refusal_shape(resp)
        assert len(read_stream(app_settings, "conversions")) == stored

    run()


urlish = st.one_of(
    hostile_text,
    st.builds(
        "{}://{}{}/{}".format,
        st.sampled_from(["http", "https", "ftp", "HTTP", ""]),
        st.sampled_from(["", "user:pw@", "a@", "a\\@"]),
        st.one_of(
            st.sampled_from(["e.com", "[::1]", "[::1", "127.0.0.1:99999", "e.com:0", "xn--"]),
            hostile_text,
        ),
        hostile_text,
    ),
)


# A link's own window: in bounds, at and past the edges, huge, and not whole numbers.
window_values = st.one_of(
    st.none(),
    st.integers(min_value=1, max_value=MAX_ATTRIBUTION_WINDOW_DAYS),
    st.sampled_from([0, -1, MAX_ATTRIBUTION_WINDOW_DAYS + 1, 2**63, 10**40, True, False]),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    hostile_text,
    st.lists(st.integers(), max_size=2),
)


def test_campaign_links_are_never_a_server_error(api, app_settings):
    client, _ = api

    @EXAMPLES
    @given(
        body=st.fixed_dictionaries(
            {"short_code": st.one_of(hostile_text, st.just("ok")), "destination_url": urlish},
            optional={
                "campaign_name": st.one_of(hostile_text, st.none(), st.integers()),
                "youtube_video_id": st.one_of(hostile_text, st.none()),
                "placement": st.one_of(hostile_text, st.none()),
                "attribution_window_days": window_values,
            },
        )
    )
    def run(body):
        resp = client.post("/api/campaign-links", content=wire_text(body), headers=ADMIN_HEADERS)
        assert resp.status_code in (201, 409, 422), resp.text
        if resp.status_code != 201:
            assert_refusal_shape(resp)
        window = body.get("attribution_window_days")
        if resp.status_code == 201:
            # Only a whole number in bounds (or none) makes a link, and it is kept as sent.
            assert window is None or (
                type(window) is int and 1 <= window <= MAX_ATTRIBUTION_WINDOW_DAYS
            )
            assert resp.json()["attribution_window_days"] == window

    run()


def test_a_links_window_is_a_whole_number_in_bounds_or_a_422_naming_it(api, app_settings):
    client, _ = api
    codes = iter(range(10**9))

    @EXAMPLES
    @given(window=window_values)
    def run(window):
        body = {
            "short_code": f"w-{next(codes)}",
            "destination_url": "https://example.com/",
            "attribution_window_days": window,
        }
        resp = client.post("/api/campaign-links", content=wire_text(body), headers=ADMIN_HEADERS)
        if window is None or (type(window) is int and 1 <= window <= MAX_ATTRIBUTION_WINDOW_DAYS):
            assert resp.status_code == 201, resp.text
            assert resp.json()["attribution_window_days"] == window
            return
        assert resp.status_code == 422, resp.text
        assert_refusal_shape(resp)
        detail = resp.json()["detail"]
        problems = detail if isinstance(detail, list) else [detail]
        assert [p["field"] for p in problems] == ["attribution_window_days"]

    run()


path_segments = st.one_of(
    hostile_text.map(lambda t: quote(t.encode("utf-8", "surrogatepass"), safe="")),
    st.binary(max_size=6).map(lambda b: quote(b, safe="")),
    st.sampled_from(["e677d21f-dc00-7000-8000-000000000000", "%ED%A0%80", "%FF", "..", "%2F"]),
)


def test_path_parameters_are_never_a_server_error(api):
    client, _ = api

    @EXAMPLES
    @given(segment=path_segments)
    def run(segment):
        for method, path, headers in [
            ("GET", f"/c/{segment}", {}),
            ("GET", f"/api/conversions/attribution/{segment}", READ_HEADERS),
            ("GET", f"/api/conversions/funnel/{segment}?from=2026-01-01", READ_HEADERS),
            ("GET", f"/api/conversions/types/{segment}", READ_HEADERS),
            ("PATCH", f"/api/campaign-links/{segment}", ADMIN_HEADERS),
        ]:
            body = b'{"disabled": true}' if method == "PATCH" else None
            resp = client.request(method, path, content=body, headers=headers)
            assert resp.status_code < 500, (path, resp.text)

    run()
