"""Hostile refunds over HTTP: never a 5xx, a refusal names the refund's fields, a batch
keeps its good refunds, and the refund endpoints and the admin import give the same
verdict on the same refunds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.app import create_app
from collector.validation.columns import REFUND_FIELDS
from convtrack.core.settings import Settings
from tests.collector.conftest import ADMIN, read_stream
from tests.collector.strategies import good_refunds, refunds, wire_text

REFUND_TOKEN = "refund-secret"
JSON = {"Content-Type": "application/json"}
REFUNDER = {"Authorization": f"Bearer {REFUND_TOKEN}", **JSON}
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}", **JSON}
EXAMPLES = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", admin_token=ADMIN, refund_token=REFUND_TOKEN)


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings), raise_server_exceptions=False) as c:
        yield c


def problems(resp) -> list[dict]:
    detail = resp.json()["detail"]
    return detail if isinstance(detail, list) else [detail]


def test_single_refunds_are_never_a_server_error(client, app_settings):
    stored = 0

    @EXAMPLES
    @given(refund=st.one_of(refunds, good_refunds))
    def run(refund):
        nonlocal stored
        resp = client.post("/api/refunds", content=wire_text(refund), headers=REFUNDER)
        assert resp.status_code in (202, 422), resp.text
        if resp.status_code == 202:
            stored += 1
        else:
            for problem in problems(resp):
                assert set(problem) == {"code", "field", "message"} and problem["message"]
                # Each refusal names a field of the refund (the body is always an object).
                assert problem["field"] in REFUND_FIELDS, problem
        # What was acknowledged is on disk; what was refused is not.
        assert len(read_stream(app_settings, "refunds")) == stored

    run()


def test_a_batch_keeps_its_good_refunds_whatever_sits_beside_them(client, app_settings):
    @EXAMPLES
    @given(
        batch=st.lists(refunds, max_size=8),
        good=good_refunds,
        position=st.integers(0, 8),
    )
    def run(batch, good, position):
        position = min(position, len(batch))
        sent = [*batch[:position], good, *batch[position:]]
        resp = client.post(
            "/api/refunds/batch", content=wire_text({"events": sent}), headers=REFUNDER
        )
        assert resp.status_code == 202, resp.text
        results = resp.json()["results"]
        assert len(results) == len(sent)
        mine = results[position]
        assert mine["status"] == "accepted", mine
        for result in results:
            assert result["status"] == "accepted" or all(
                e["message"] and e["field"] in REFUND_FIELDS for e in result["errors"]
            )
        accepted = {r["event_id"] for r in results if r["status"] == "accepted"}
        assert accepted <= {r["event_id"] for r in read_stream(app_settings, "refunds")}

    run()


def test_the_refund_api_and_the_admin_import_agree(client):
    @EXAMPLES
    @given(batch=st.lists(st.one_of(refunds, good_refunds), min_size=1, max_size=10))
    def run(batch):
        text = wire_text({"events": batch})
        api = client.post("/api/refunds/batch", content=text, headers=REFUNDER)
        imported = client.post(
            "/api/admin/import", content=wire_text({"refunds": batch}), headers=ADMIN_HEADERS
        )
        assert api.status_code == 202, api.text
        assert imported.status_code == 200, imported.text
        by_api = [
            [(e["code"], e["field"]) for e in r.get("errors", [])] for r in api.json()["results"]
        ]
        by_import = [
            [(e["code"], e["field"]) for e in r.get("errors", [])]
            for r in imported.json()["results"]["refunds"]
        ]
        assert by_api == by_import, batch

    run()
