"""Every refusal in the documented shape `{"detail": {"code", "field", "message"}}`, the
routing errors included; a client that hangs up is not a server error."""

from __future__ import annotations

import re
import socket
import time

import pytest

from tests.conftest import start_collector, stop_collector


def assert_problem(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    detail = resp.json()["detail"]
    assert set(detail) == {"code", "field", "message"}
    assert detail["code"] == code and detail["message"]
    return detail


@pytest.mark.parametrize("path", ["/nope", "/api", "/api/conversions/nope/deeper", "/c"])
def test_unknown_paths_are_404_in_the_error_shape(client, path):
    assert_problem(client.get(path), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", "/api/conversions"), ("DELETE", "/api/conversions/batch"), ("POST", "/healthz")],
)
def test_wrong_methods_are_405_in_the_error_shape_with_allow(client, method, path):
    resp = client.request(method, path)
    detail = assert_problem(resp, 405, "method_not_allowed")
    assert resp.headers["allow"]
    assert resp.headers["allow"] in detail["message"]


def test_a_trailing_slash_does_not_redirect_to_the_host_header(client):
    resp = client.post(
        "/api/conversions/",
        content=b"{}",
        headers={"Host": "evil.example"},
        follow_redirects=False,
    )
    assert "location" not in resp.headers
    detail = assert_problem(resp, 404, "not_found")
    assert "trailing slash" in detail["message"]
    assert "evil.example" not in resp.text


def test_a_client_hanging_up_mid_body_is_not_a_server_error(tmp_path):
    log_path = tmp_path / "collector.log"
    collector = start_collector(tmp_path / "data", log_path)
    try:
        port = int(collector.base_url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(
                b"POST /api/conversions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                b'{"tracking_id": '
            )
        # The server logs one access line per request once it has finished with it.
        deadline = time.monotonic() + 30
        while not re.search(r'"route":"/api/conversions".*"status":\d+', log_path.read_text()):
            assert time.monotonic() < deadline, log_path.read_text()[-2000:]
            time.sleep(0.05)
    finally:
        stop_collector(collector)
    log = log_path.read_text()
    assert '"status":499' in log
    assert '"status":500' not in log
    assert "Traceback" not in log and "Exception in ASGI application" not in log
