"""Admin, read and refund endpoints: 401 without a token, 403 with a wrong one or none
configured."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from collector.app import create_app
from convtrack.core.settings import Settings

LINK = "01a212cd-fcab-74e8-bbb7-203e94aeca9b"
ADMIN_CALLS = [
    ("POST", "/api/campaign-links", {"short_code": "a", "destination_url": "https://e.com"}),
    ("GET", "/api/campaign-links", None),
    ("PATCH", f"/api/campaign-links/{LINK}", {"disabled": True}),
    ("POST", "/api/admin/import", {"clicks": []}),
]
READ_CALLS = [
    ("GET", f"/api/conversions/attribution/{LINK}", None),
    ("GET", f"/api/conversions/funnel/{LINK}", None),
    ("GET", f"/api/conversions/types/{LINK}", None),
]
# Opened by the refund token or the admin token (tests/collector/test_refunds.py).
REFUND_CALLS = [
    ("POST", "/api/refunds", {"order_id": "A-1", "amount": "1.00"}),
    ("POST", "/api/refunds/batch", {"events": []}),
]
ALL_CALLS = ADMIN_CALLS + READ_CALLS + REFUND_CALLS


def call(client: TestClient, method: str, path: str, body, headers=None):
    return client.request(method, path, json=body, headers=headers or {})


@pytest.mark.parametrize(("method", "path", "body"), ALL_CALLS)
def test_missing_token_is_401(client, method, path, body):
    resp = call(client, method, path, body)
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"
    assert resp.json()["detail"]["code"] == "missing_token"


@pytest.mark.parametrize(("method", "path", "body"), ALL_CALLS)
def test_wrong_token_is_403(client, method, path, body):
    resp = call(client, method, path, body, {"Authorization": "Bearer wrong"})
    assert resp.status_code == 403
    assert resp.json()["detail"]["code"] == "invalid_token"


def test_tokens_do_not_open_each_others_endpoints(client, admin_headers, reader_headers):
    assert call(client, *READ_CALLS[0], admin_headers).status_code == 403
    assert call(client, *ADMIN_CALLS[1], reader_headers).status_code == 403
    assert call(client, *ADMIN_CALLS[1], admin_headers).status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), ALL_CALLS)
@pytest.mark.parametrize("token", [None, "", "anything"])
def test_no_token_configured_means_closed(tmp_path, method, path, body, token):
    settings = Settings(data_dir=tmp_path / "data")
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    with TestClient(create_app(settings)) as client:
        resp = call(client, method, path, body, headers)
    assert resp.status_code == 403
    assert resp.json()["detail"]["code"] == "endpoint_closed"
