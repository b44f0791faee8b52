"""POST /api/conversions: every rule of docs/rules.md#validation, through the app onto disk."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import uuid_utils
from fastapi.testclient import TestClient

from collector.clock import utc_now
from collector.validation.rules import MAX_EVENT_DATA_BYTES, MAX_ORDER_ID_CHARS
from convtrack.core.settings import Settings
from tests.collector.conftest import read_stream, uuid7_at


@pytest.fixture
def event(link: dict) -> dict:
    return {
        "tracking_id": str(uuid_utils.uuid7()),
        "campaign_link_id": link["campaign_link_id"],
        "event_type": "purchase",
        "revenue_amount": "49.99",
    }


def post(client: TestClient, body: dict | list | str | bytes):
    if isinstance(body, bytes | str):
        return client.post("/api/conversions", content=body)
    return client.post("/api/conversions", json=body)


def refused(client: TestClient, settings: Settings, body, code: str, field: str | None) -> dict:
    resp = post(client, body)
    assert resp.status_code == 422, resp.text
    detail = resp.json()["detail"]
    problems = detail if isinstance(detail, list) else [detail]
    assert (code, field) in [(p["code"], p["field"]) for p in problems]
    assert all(p["message"] for p in problems)
    assert read_stream(settings, "conversions") == []
    return resp.json()


def accepted(client: TestClient, settings: Settings, body) -> tuple[dict, dict]:
    resp = post(client, body)
    assert resp.status_code == 202, resp.text
    answer = resp.json()
    rows = [r for r in read_stream(settings, "conversions") if r["event_id"] == answer["event_id"]]
    assert len(rows) == 1
    return answer, rows[0]


def test_accepted_purchase_is_stored_with_every_column(client, settings, event):
    event |= {"order_id": "ord-1", "event_data": {"plan": "pro"}, "currency": "usd"}
    before = utc_now()
    answer, row = accepted(client, settings, event)
    assert answer["status"] == "accepted" and answer["warnings"] == []
    assert row["tracking_id"] == event["tracking_id"]
    assert row["campaign_link_id"] == event["campaign_link_id"]
    assert row["revenue_amount"] == Decimal("49.99")
    assert row["currency"] == "USD"
    assert row["order_id"] == "ord-1"
    assert row["event_data"] == '{"plan":"pro"}'
    assert row["source"] == "api"
    assert before <= row["converted_at"] == row["received_at"] <= utc_now()


def test_client_event_id_is_kept_and_currency_defaults(client, settings, event):
    event_id = str(uuid_utils.uuid4())
    answer, row = accepted(client, settings, event | {"event_id": event_id.upper()})
    assert answer["event_id"] == row["event_id"] == event_id
    assert row["currency"] == settings.currency


@pytest.mark.parametrize("amount", ["0.01", 0.01, "99999999.99", 99999999.99, 1, "10000.00"])
def test_revenue_at_the_edges_is_accepted(client, settings, event, amount):
    answer, row = accepted(client, settings, event | {"revenue_amount": amount})
    assert row["revenue_amount"] == Decimal(str(amount))
    expected = ["revenue_above_threshold"] if Decimal(str(amount)) > 10000 else []
    assert [w["code"] for w in answer["warnings"]] == expected


@pytest.mark.parametrize(
    ("amount", "event_type", "code"),
    [
        (0, "purchase", "revenue_required"),
        ("0.00", "purchase", "revenue_required"),
        (-1, "purchase", "revenue_required"),
        (None, "purchase", "revenue_required"),
        (0, "course_enrollment", "revenue_not_positive"),
        (-1, "course_enrollment", "revenue_not_positive"),
        (1.005, "purchase", "revenue_precision"),
        ("1.005", "purchase", "revenue_precision"),
        ("99999999.999", "purchase", "revenue_too_large"),
        ("100000000.00", "purchase", "revenue_too_large"),
        (100000000, "purchase", "revenue_too_large"),
        (1e300, "purchase", "revenue_too_large"),
        ("12,50", "purchase", "invalid_revenue"),
        ("1e3", "purchase", "invalid_revenue"),
        (True, "purchase", "invalid_revenue"),
        ([5], "purchase", "invalid_revenue"),
    ],
)
def test_revenue_rules(client, settings, event, amount, event_type, code):
    body = event | {"event_type": event_type, "revenue_amount": amount}
    if amount is None:
        del body["revenue_amount"]
    refused(client, settings, body, code, "revenue_amount")


def test_course_enrollment_without_revenue_is_accepted(client, settings, event):
    del event["revenue_amount"]
    _, row = accepted(client, settings, event | {"event_type": "course_enrollment"})
    assert row["revenue_amount"] is None


def test_newsletter_with_revenue_is_accepted_with_a_warning(client, settings, event):
    answer, row = accepted(client, settings, event | {"event_type": "newsletter_signup"})
    assert [w["code"] for w in answer["warnings"]] == ["newsletter_with_revenue"]
    assert row["event_type"] == "newsletter_signup"


def test_revenue_above_ten_thousand_is_accepted_with_a_warning(client, settings, event):
    answer, row = accepted(client, settings, event | {"revenue_amount": "10000.01"})
    assert [(w["code"], w["field"]) for w in answer["warnings"]] == [
        ("revenue_above_threshold", "revenue_amount")
    ]
    assert row["revenue_amount"] == Decimal("10000.01")


@pytest.mark.parametrize("field", ["tracking_id", "campaign_link_id", "event_id"])
@pytest.mark.parametrize("value", ["not-a-uuid", 12, "01a212cd-fcab-74e8-bbb7-203e94aeca9", ["x"]])
def test_ids_must_be_uuids(client, settings, event, field, value):
    refused(client, settings, event | {field: value}, "invalid_uuid", field)


@pytest.mark.parametrize("field", ["tracking_id", "campaign_link_id", "event_type"])
def test_required_fields(client, settings, event, field):
    del event[field]
    refused(client, settings, event, "missing_field", field)


@pytest.mark.parametrize("value", ["signup", "PURCHASE", 3, None])
def test_event_type_must_be_one_of_three(client, settings, event, value):
    code = "missing_field" if value is None else "invalid_event_type"
    refused(client, settings, event | {"event_type": value}, code, "event_type")


def test_event_data_of_exactly_8kb_is_accepted(client, settings, event):
    # {"k":"xxx…"} is 8 bytes of wrapping around the value.
    data = {"k": "x" * (MAX_EVENT_DATA_BYTES - 8)}
    _, row = accepted(client, settings, event | {"event_data": data})
    assert len(row["event_data"].encode()) == MAX_EVENT_DATA_BYTES


@pytest.mark.parametrize(
    "data",
    [
        {"k": "x" * (MAX_EVENT_DATA_BYTES - 7)},
        {"k": "é" * (MAX_EVENT_DATA_BYTES // 2)},
        "a string",
        [1, 2],
        3,
    ],
)
def test_event_data_must_be_a_small_object(client, settings, event, data):
    refused(client, settings, event | {"event_data": data}, "invalid_event_data", "event_data")


def test_unknown_campaign_link(client, settings, event):
    refused(
        client,
        settings,
        event | {"campaign_link_id": str(uuid_utils.uuid7())},
        "unknown_campaign_link",
        "campaign_link_id",
    )


@pytest.mark.parametrize("currency", ["EUR", "US", 840])
def test_currency_must_be_the_configured_one(client, settings, event, currency):
    refused(client, settings, event | {"currency": currency}, "currency_mismatch", "currency")


def test_tracking_id_past_the_window_is_refused(client, settings, event):
    window = settings.attribution_window_days
    old = uuid7_at(utc_now() - dt.timedelta(days=window + 1, minutes=1))
    refused(
        client, settings, event | {"tracking_id": old}, "attribution_window_expired", "tracking_id"
    )


def test_tracking_id_on_the_last_day_of_the_window_is_accepted(client, settings, event):
    # floor(days) == window still counts (docs/rules.md#attribution).
    window = settings.attribution_window_days
    recent = uuid7_at(utc_now() - dt.timedelta(days=window, hours=23))
    accepted(client, settings, event | {"tracking_id": recent})


def test_old_looking_uuid4_is_not_judged_by_time(client, settings, event):
    # A v4 id carries no time; only the warehouse can place it in the window.
    accepted(client, settings, event | {"tracking_id": "00000000-0000-4000-8000-000000000000"})


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"not json", b'{"a": NaN}', b"[]", b'"text"', b"null", b"1" * 5000],
)
def test_malformed_bodies_are_422_invalid_body(client, settings, raw):
    answer = refused(client, settings, raw, "invalid_body", None)
    assert isinstance(answer["detail"], dict)


def test_order_id_must_be_text(client, settings, event):
    refused(client, settings, event | {"order_id": {"id": 1}}, "invalid_order_id", "order_id")


def test_several_problems_come_as_a_list(client, settings, event):
    body = event | {"event_type": "x", "currency": "EUR"}
    answer = refused(client, settings, body, "invalid_event_type", "event_type")
    assert {p["code"] for p in answer["detail"]} == {"invalid_event_type", "currency_mismatch"}


def test_text_plain_body_from_send_beacon_is_accepted(client, settings, event):
    resp = client.post(
        "/api/conversions", content=json.dumps(event), headers={"Content-Type": "text/plain"}
    )
    assert resp.status_code == 202
    assert len(read_stream(settings, "conversions")) == 1


# Inputs that are valid JSON yet were answered 500: each is a 422 naming its field.
LONE_SURROGATE = "\ud800"


@pytest.mark.parametrize(
    "tracking_id",
    [
        "e677d21f-dc00-7000-8000-000000000000",  # past the year 9999
        "ffffffff-ffff-7fff-bfff-ffffffffffff",
        "E677D21F-DC00-7000-8000-000000000000",
    ],
)
def test_uuid7_tracking_ids_from_the_future_are_refused(client, settings, event, tracking_id):
    body = event | {"tracking_id": tracking_id}
    refused(client, settings, body, "tracking_id_in_future", "tracking_id")


def test_uuid7_tracking_id_a_minute_ahead_is_accepted(client, settings, event):
    # A collector whose clock runs a little ahead of this one's minted it.
    accepted(
        client, settings, event | {"tracking_id": uuid7_at(utc_now() + dt.timedelta(minutes=1))}
    )


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"order_id": LONE_SURROGATE}, "order_id", "invalid_order_id"),
        ({"order_id": "a" + LONE_SURROGATE + "b"}, "order_id", "invalid_order_id"),
        ({"event_data": {"k": LONE_SURROGATE}}, "event_data", "invalid_event_data"),
        ({"event_data": {LONE_SURROGATE: 1}}, "event_data", "invalid_event_data"),
        ({"event_data": {"k": [{"deep": "\udfff"}]}}, "event_data", "invalid_event_data"),
        ({"revenue_amount": LONE_SURROGATE}, "revenue_amount", "invalid_revenue"),
        ({"event_type": LONE_SURROGATE}, "event_type", "invalid_event_type"),
        ({"currency": LONE_SURROGATE}, "currency", "currency_mismatch"),
        ({"tracking_id": LONE_SURROGATE}, "tracking_id", "invalid_uuid"),
    ],
)
def test_lone_surrogates_are_refused_by_field(client, settings, event, change, field, code):
    # json.dumps writes a lone surrogate as the escape "\ud800", valid JSON text.
    refused(client, settings, json.dumps(event | change), code, field)


@pytest.mark.parametrize("length", [MAX_ORDER_ID_CHARS + 1, 10_000])
def test_order_id_has_a_length_limit(client, settings, event, length):
    refused(client, settings, event | {"order_id": "o" * length}, "invalid_order_id", "order_id")


def test_order_id_at_its_limit_is_kept_whole(client, settings, event):
    _, row = accepted(client, settings, event | {"order_id": "o" * MAX_ORDER_ID_CHARS})
    assert row["order_id"] == "o" * MAX_ORDER_ID_CHARS


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("1e30000000", "revenue_too_large"),
        ("-1e30000000", "revenue_required"),
        ("1e-30000000", "revenue_precision"),
        ("0e-30000000", "revenue_required"),
        ("0.00000", "revenue_required"),
    ],
)
def test_numbers_with_huge_exponents_are_judged_without_expanding(
    client, settings, event, raw, code
):
    # 1e30000000 in plain notation is 30 million digits: the verdict must not need them.
    text = json.dumps(event | {"revenue_amount": "REVENUE"}).replace('"REVENUE"', raw)
    refused(client, settings, text, code, "revenue_amount")
