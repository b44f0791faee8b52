"""Health, metrics, access logs and the published API description."""

from __future__ import annotations

import logging
import shutil

import uuid_utils
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from collector.app import create_app
from collector.observability import ACCESS_LOGGER
from convtrack.core.settings import Settings


def test_healthz_reports_a_writable_log(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() | {"pending_events": 0} == {
        "status": "ok",
        "log_writable": True,
        "pending_events": 0,
        "unconverted_segments": [],
        "last_error": None,
    }


def test_healthz_is_503_when_the_raw_dir_cannot_be_written(client, settings):
    # Checked on every call: replace the directory by a file (works as root, unlike chmod).
    raw = settings.raw_dir
    shutil.rmtree(raw, ignore_errors=True)
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text("not a directory")
    resp = client.get("/healthz")
    assert resp.status_code == 503
    assert resp.json()["log_writable"] is False
    assert resp.json()["status"] == "unavailable"


def samples(client: TestClient) -> dict[tuple[str, tuple], float]:
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(resp.text):
        for s in family.samples:
            out[s.name, tuple(sorted(s.labels.items()))] = s.value
    return out


def test_metrics_count_events_by_stream_and_code(client, link):
    event = {
        "tracking_id": str(uuid_utils.uuid7()),
        "campaign_link_id": link["campaign_link_id"],
        "event_type": "course_enrollment",
    }
    assert client.post("/api/conversions", json=event).status_code == 202
    assert client.post("/api/conversions", json=event | {"event_type": "x"}).status_code == 422
    client.post(
        "/api/conversions/batch", json={"events": [event, event | {"currency": "EUR"}, event]}
    )
    assert client.get("/c/launch", follow_redirects=False).status_code == 302
    got = samples(client)
    assert got["convtrack_events_accepted_total", (("stream", "conversions"),)] == 3
    assert got["convtrack_events_accepted_total", (("stream", "clicks"),)] == 1
    assert got["convtrack_events_rejected_total", (("code", "invalid_event_type"),)] == 1
    assert got["convtrack_events_rejected_total", (("code", "currency_mismatch"),)] == 1
    count = ("convtrack_request_duration_seconds_count",)
    key = (("method", "POST"), ("route", "/api/conversions"))
    assert got[count[0], key] == 2
    assert got[count[0], (("method", "GET"), ("route", "/c/{short_code}"))] == 1


def test_metrics_are_per_app(settings):
    # A registry per app: a second app starts from zero, no global to reset.
    with TestClient(create_app(settings)) as first:
        first.post("/api/conversions", content=b"{}")
    with TestClient(create_app(settings)) as second:
        assert ("convtrack_events_rejected_total", (("code", "invalid_body"),)) not in samples(
            second
        )


def test_pending_events_come_from_the_store(client):
    client.app.state.store.pending_events = lambda: 7
    assert samples(client)["convtrack_log_pending_events", ()] == 7
    assert client.get("/healthz").json()["pending_events"] == 7


def test_logs_hold_no_token_and_no_full_ip(tmp_path, caplog):
    secret = "tok-" + uuid_utils.uuid4().hex
    settings = Settings(data_dir=tmp_path / "data", admin_token=secret, store_full_ip=True)
    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(settings), client=("203.0.113.77", 5555)) as client:
        headers = {"Authorization": f"Bearer {secret}"}
        assert client.get("/api/campaign-links", headers=headers).status_code == 200
        client.get(f"/api/campaign-links?token={secret}", headers=headers)
        client.post("/api/conversions", content=b"{}", headers=headers)
    # Everything the app and its libraries logged (httpx's lines are the test client's).
    app_records = [r for r in caplog.records if not r.name.startswith("httpx")]
    text = "\n".join(f"{r.getMessage()} {r.args!r}" for r in app_records)
    access = [r.getMessage() for r in app_records if r.name == ACCESS_LOGGER]
    assert len(access) == 3
    assert '"route":"/api/campaign-links"' in access[0]
    assert '"client_network":"203.0.113.0"' in access[0]
    assert secret not in text
    assert "203.0.113.77" not in text


def test_openapi_documents_every_route(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/c/{short_code}", "/api/conversions", "/api/admin/import"} <= set(paths)
    assert {"/api/conversions/batch", "/healthz", "/metrics"} <= set(paths)
    body = paths["/api/conversions"]["post"]["requestBody"]["content"]["application/json"]
    assert "tracking_id" in body["schema"]["properties"]
    batch = paths["/api/conversions/batch"]["post"]
    assert {"202", "413", "422", "429"} <= set(batch["responses"])
