"""POST /api/conversions/batch: per-event results, good events kept, idempotent retries."""

from __future__ import annotations

import json

import uuid_utils

from collector.validation.rules import MAX_BATCH_EVENTS
from tests.collector.conftest import read_stream


def good(link: dict, **extra) -> dict:
    return {
        "tracking_id": str(uuid_utils.uuid7()),
        "campaign_link_id": link["campaign_link_id"],
        "event_type": "purchase",
        "revenue_amount": "19.99",
        **extra,
    }


def test_good_events_are_kept_when_others_are_rejected(client, settings, link):
    client_id = str(uuid_utils.uuid4())
    events = [
        good(link, event_id=client_id),
        good(link, event_type="signup"),
        "not an object",
        good(link, event_type="newsletter_signup"),
    ]
    resp = client.post("/api/conversions/batch", json={"events": events})
    assert resp.status_code == 202, resp.text
    answer = resp.json()
    assert (answer["accepted"], answer["rejected"]) == (2, 2)
    results = answer["results"]
    assert [(r["index"], r["status"]) for r in results] == [
        (0, "accepted"),
        (1, "rejected"),
        (2, "rejected"),
        (3, "accepted"),
    ]
    assert results[0]["event_id"] == client_id
    assert [(e["code"], e["field"]) for e in results[1]["errors"]] == [
        ("invalid_event_type", "event_type")
    ]
    assert results[2]["errors"][0]["code"] == "invalid_body"
    assert [w["code"] for w in results[3]["warnings"]] == ["newsletter_with_revenue"]
    stored = {r["event_id"]: r for r in read_stream(settings, "conversions")}
    assert set(stored) == {results[0]["event_id"], results[3]["event_id"]}
    assert stored[client_id]["tracking_id"] == events[0]["tracking_id"]


def test_a_retried_batch_gets_the_same_answer_and_ids(client, settings, link):
    events = [good(link, event_id=str(uuid_utils.uuid4())) for _ in range(3)]
    first = client.post("/api/conversions/batch", json={"events": events})
    again = client.post("/api/conversions/batch", json={"events": events})
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    # Both copies are on disk; staging keeps the first received of each event_id.
    ids = [r["event_id"] for r in read_stream(settings, "conversions")]
    assert sorted(ids) == sorted([e["event_id"] for e in events] * 2)


def test_a_retried_single_event_gets_the_same_202(client, link):
    event = good(link, event_id=str(uuid_utils.uuid4()))
    first = client.post("/api/conversions", json=event)
    again = client.post("/api/conversions", json=event)
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert first.json()["event_id"] == event["event_id"]


def test_five_hundred_events_are_accepted_in_one_request(client, settings, link):
    events = [good(link) for _ in range(MAX_BATCH_EVENTS)]
    resp = client.post("/api/conversions/batch", json={"events": events})
    assert resp.status_code == 202, resp.text
    assert resp.json()["accepted"] == MAX_BATCH_EVENTS
    assert len(read_stream(settings, "conversions")) == MAX_BATCH_EVENTS


def test_more_than_five_hundred_is_422_too_many_events(client, settings, link):
    events = [good(link) for _ in range(MAX_BATCH_EVENTS + 1)]
    resp = client.post("/api/conversions/batch", json={"events": events})
    assert resp.status_code == 422
    assert resp.json()["detail"]["code"] == "too_many_events"
    assert resp.json()["detail"]["field"] == "events"
    assert read_stream(settings, "conversions") == []


def test_body_must_hold_an_events_list(client):
    for body in ([], {"event": []}, {"events": {}}, "x"):
        resp = client.post("/api/conversions/batch", json=body)
        assert resp.status_code == 422, body
        assert resp.json()["detail"]["code"] == "invalid_body"


def test_an_event_that_cannot_be_stored_does_not_take_the_batch_down(client, settings, link):
    # Lone surrogates (JSON "\ud800" escapes) and a tracking id past the year 9999 used to
    # fail the whole request with a 500, losing the good events beside them.
    events = [
        good(link),
        good(link, order_id="\ud800"),
        good(link, event_data={"k": "\udc00"}),
        good(link, tracking_id="e677d21f-dc00-7000-8000-000000000000"),
        good(link),
    ]
    resp = client.post(
        "/api/conversions/batch",
        content=json.dumps({"events": events}),
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code == 202, resp.text
    answer = resp.json()
    assert [r["status"] for r in answer["results"]] == [
        "accepted",
        "rejected",
        "rejected",
        "rejected",
        "accepted",
    ]
    assert [r["errors"][0]["field"] for r in answer["results"][1:4]] == [
        "order_id",
        "event_data",
        "tracking_id",
    ]
    stored = {r["event_id"] for r in read_stream(settings, "conversions")}
    assert stored == {answer["results"][0]["event_id"], answer["results"][4]["event_id"]}
