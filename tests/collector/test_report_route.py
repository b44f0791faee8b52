"""GET /report: the latest HTML report, behind the read token (docs/report.md)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from collector.app import create_app
from convtrack.core.settings import Settings
from convtrack.report import report_path

PAGE = b"<!doctype html><title>report</title><p>as of 2026-03-31</p>"


def test_no_report_yet_is_a_404_that_says_how_to_make_one(client, reader_headers) -> None:
    resp = client.get("/report", headers=reader_headers)
    assert resp.status_code == 404
    assert resp.json()["detail"]["code"] == "no_report"
    assert "convtrack report" in resp.json()["detail"]["message"]


def test_serves_the_latest_report(client, reader_headers, settings: Settings) -> None:
    path = report_path(settings)
    path.parent.mkdir(parents=True)
    path.write_bytes(PAGE)

    resp = client.get("/report", headers=reader_headers)

    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    assert resp.content == PAGE
    path.write_bytes(PAGE.replace(b"03-31", b"04-01"))  # the next run's
    assert b"2026-04-01" in client.get("/report", headers=reader_headers).content


def test_needs_the_read_token(client, admin_headers, settings: Settings) -> None:
    path = report_path(settings)
    path.parent.mkdir(parents=True)
    path.write_bytes(PAGE)

    assert client.get("/report").status_code == 401
    assert client.get("/report", headers={"Authorization": "Bearer nope"}).status_code == 403
    assert client.get("/report", headers=admin_headers).status_code == 403


def test_closed_without_a_read_token_configured(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    path = report_path(settings)
    path.parent.mkdir(parents=True)
    path.write_bytes(PAGE)
    with TestClient(create_app(settings)) as client:
        resp = client.get("/report", headers={"Authorization": "Bearer anything"})
    assert resp.status_code == 403
    assert resp.json()["detail"]["code"] == "endpoint_closed"
