"""The hot public paths served without FastAPI's router (collector/hot.py): the same
answers as through the router, for any request a client can send, and no dependency
solving on the way."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import fastapi.routing
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.app import create_app
from collector.hot import HOT_ROUTES, HotPathMiddleware
from convtrack.core.settings import Settings
from tests.collector.conftest import ADMIN
from tests.collector.strategies import LINK, events, events_with_touches, hostile_text, wire_text

ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}
EXAMPLES = settings(
    max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None
)
# What differs between two answers to the same request by design: ids the collector mints.
MINTED = ("event_id", "ct_tracking_id")


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> Iterator[tuple[TestClient, TestClient, str]]:
    """(hot, routed): two collectors on one data directory, with one link."""
    data = tmp_path_factory.mktemp("hot") / "data"
    settings = Settings(data_dir=data, admin_token=ADMIN, rate_limit_per_ip=0)
    with ExitStack() as stack:
        hot = stack.enter_context(TestClient(create_app(settings), raise_server_exceptions=False))
        resp = hot.post(
            "/api/campaign-links",
            json={"short_code": "hot", "destination_url": "https://creator.example/p?x=1#top"},
            headers=ADMIN_HEADERS,
        )
        assert resp.status_code == 201, resp.text
        # Started after the link exists: its registry reads it at start.
        routed = stack.enter_context(
            TestClient(create_app(settings, hot_paths=False), raise_server_exceptions=False)
        )
        yield hot, routed, resp.json()["campaign_link_id"]


def comparable(resp) -> tuple:
    """Status, headers and body, minted ids blanked (their presence still compared)."""
    headers = {k: v for k, v in resp.headers.items() if k not in ("date", "content-length")}
    if "location" in headers:
        parts = urlsplit(headers["location"])
        query = parse_qs(parts.query)
        for name in MINTED:
            if name in query:
                query[name] = ["<minted>"]
        headers["location"] = (parts._replace(query=""), sorted(query.items()))
    body: object = resp.content
    if resp.headers.get("content-type", "").startswith("application/json"):
        body = blank_minted(resp.json(), sent=resp.request.content)
    return resp.status_code, headers, body


def blank_minted(value: object, sent: bytes) -> object:
    """`event_id`s the collector chose blanked; one the client sent stays to be compared."""
    if isinstance(value, dict):
        return {
            k: "<minted>"
            if k in MINTED and isinstance(v, str) and v.encode() not in sent
            else blank_minted(v, sent)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [blank_minted(v, sent) for v in value]
    return value


def with_link(text: str, link_id: str) -> str:
    return text.replace(LINK, link_id).replace(LINK.upper(), link_id.upper())


bodies = st.one_of(
    st.builds(wire_text, events),
    st.builds(wire_text, events_with_touches()),
    st.builds(lambda e: wire_text({"events": e}), st.lists(events, max_size=5)),
    st.builds(wire_text, st.recursive(st.none() | hostile_text, st.lists, max_leaves=4)),
    st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
)


@EXAMPLES
@given(body=bodies, batch=st.booleans(), origin=st.sampled_from([None, "https://creator.example"]))
def test_a_conversion_gets_the_answer_the_router_gives(pair, body, batch, origin):
    hot, routed, link_id = pair
    path = "/api/conversions/batch" if batch else "/api/conversions"
    headers = {"Content-Type": "application/json", **({"Origin": origin} if origin else {})}
    content = with_link(body, link_id).encode("utf-8", "surrogatepass")
    answers = [c.post(path, content=content, headers=headers) for c in (hot, routed)]
    assert answers[0].status_code < 500, answers[0].text
    assert comparable(answers[0]) == comparable(answers[1])


@EXAMPLES
@given(code=st.one_of(st.just("hot"), st.just("HOT"), hostile_text.filter(bool)))
def test_a_redirect_gets_the_answer_the_router_gives(pair, code):
    hot, routed, _ = pair
    path = "/c/" + quote(code.encode("utf-8", "surrogatepass"), safe="")
    answers = [c.get(path, follow_redirects=False) for c in (hot, routed)]
    assert answers[0].status_code in (302, 404), answers[0].text
    assert comparable(answers[0]) == comparable(answers[1])


def test_the_rate_limit_and_its_429_are_the_routers(tmp_path: Path):
    settings = Settings(
        data_dir=tmp_path / "data", admin_token=ADMIN, rate_limit_per_ip=0.001, rate_limit_burst=2
    )
    answers = {}
    for hot_paths in (True, False):
        with TestClient(create_app(settings, hot_paths=hot_paths)) as client:
            answers[hot_paths] = [
                comparable(client.post("/api/conversions", content=b"{}")) for _ in range(3)
            ]
    assert [a[0] for a in answers[True]] == [422, 422, 429]
    assert answers[True] == answers[False]


def test_the_hot_paths_solve_no_dependencies(pair, monkeypatch):
    hot, _, link_id = pair
    solved: list[str] = []
    solve = fastapi.routing.solve_dependencies

    async def counting(*, request, **kwargs):
        solved.append(request.url.path)
        return await solve(request=request, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counting)
    body = json.dumps({"campaign_link_id": link_id}).encode()
    assert hot.post("/api/conversions", content=body).status_code == 422
    assert hot.post("/api/conversions/batch", content=b'{"events": []}').status_code == 202
    assert hot.get("/c/hot", follow_redirects=False).status_code == 302
    assert solved == []
    assert hot.head("/c/hot", follow_redirects=False).status_code == 302  # not a hot path
    assert solved == ["/c/hot"]


def test_a_hot_route_asking_for_what_the_layer_cannot_give_fails_the_start():
    app = FastAPI()

    async def fine(request: Request) -> None: ...

    async def greedy(request: Request, session_cookie: str) -> None: ...

    for method, path in HOT_ROUTES:
        endpoint = greedy if path == "/api/conversions/batch" else fine
        app.add_api_route(path, endpoint, methods=[method])
    with pytest.raises(RuntimeError, match=r"/api/conversions/batch.*session_cookie"):
        HotPathMiddleware(app.router, owner=app)
