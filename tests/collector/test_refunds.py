"""POST /api/refunds and /api/refunds/batch through a real `convtrack serve`: onto raw
Parquet in the refund's day, idempotent retries, and only for those who hold a token."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from collector.clock import utc_now
from convtrack.core.raw_schema import REFUNDS
from tests.conftest import Collector, start_collector, stop_collector

REFUND_TOKEN = f"refund-{secrets.token_hex(8)}"
REFUND_PATHS = ["/api/refunds", "/api/refunds/batch"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    tmp = tmp_path_factory.mktemp("refunds")
    # One worker: raw_refunds reads Parquet after an admin flush, which flushes the
    # log of the worker that answers it.
    collector = start_collector(
        tmp / "data", tmp / "collector.log", workers=1, CONVTRACK_REFUND_TOKEN=REFUND_TOKEN
    )
    yield collector
    stop_collector(collector)


@pytest.fixture
def refunder(live: Collector) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=live.base_url, headers={"Authorization": f"Bearer {REFUND_TOKEN}"}, timeout=30
    ) as client:
        yield client


def order() -> str:
    """An order id no other test of the module uses (they share one collector)."""
    return f"A-{uuid.uuid4().hex[:12]}"


def raw_refunds(live: Collector, order_id: str) -> dict[str, list[dict]]:
    """The refunds of `order_id` in raw Parquet, by `dt=` partition (after a flush), each
    file read with its own schema, which must be the raw stream's."""
    with live.admin() as admin:
        assert admin.post("/api/admin/flush").status_code == 200
    days: dict[str, list[dict]] = {}
    for path in sorted((live.data_dir / "raw" / "refunds").glob("dt=*/*.parquet")):
        table = pq.read_table(path)
        assert table.schema.equals(REFUNDS), table.schema
        rows = [r for r in table.to_pylist() if r["order_id"] == order_id]
        if rows:
            days.setdefault(path.parent.name, []).extend(rows)
    return days


def test_a_refund_lands_in_raw_parquet_on_its_refunded_day(live, refunder):
    order_id = order()
    event_id = str(uuid.uuid4())
    before = utc_now()
    resp = refunder.post(
        "/api/refunds",
        json={
            "order_id": order_id,
            "amount": "12.5",
            # 23:30 at UTC-1 is the next day in UTC: the partition is the UTC day.
            "refunded_at": "2026-03-02T23:30:00-01:00",
            "reason": "abîmé à la livraison 📦",
            "event_id": event_id.upper(),
            "currency": "usd",
            "note": "an unknown field is ignored, as in a conversion",
        },
    )
    assert resp.status_code == 202, resp.text
    assert resp.json() == {"event_id": event_id, "status": "accepted", "warnings": []}
    days = raw_refunds(live, order_id)
    assert list(days) == ["dt=2026-03-03"]
    (row,) = days["dt=2026-03-03"]
    assert before <= row.pop("received_at") <= utc_now()
    assert row == {
        "event_id": event_id,
        "order_id": order_id,
        "amount": Decimal("12.50"),
        "currency": "USD",
        "reason": "abîmé à la livraison 📦",
        "refunded_at": dt.datetime(2026, 3, 3, 0, 30),
        "source": "api",
    }


def test_without_refunded_at_a_refund_is_dated_when_received(live, refunder):
    order_id = order()
    before = utc_now()
    resp = refunder.post("/api/refunds", json={"order_id": order_id, "amount": 3})
    assert resp.status_code == 202, resp.text
    ((day, (row,)),) = raw_refunds(live, order_id).items()
    assert before <= row["refunded_at"] == row["received_at"] <= utc_now()
    assert day == f"dt={row['refunded_at'].date().isoformat()}"
    assert (row["amount"], row["reason"], row["event_id"]) == (
        Decimal("3.00"),
        None,
        resp.json()["event_id"],
    )


def test_a_refused_refund_names_its_fields_and_stores_nothing(live, refunder):
    order_id = order()
    resp = refunder.post(
        "/api/refunds",
        json={"order_id": order_id, "amount": "-5.001", "refunded_at": "2019-12-31T23:59:59Z"},
    )
    assert resp.status_code == 422, resp.text
    assert [(p["code"], p["field"]) for p in resp.json()["detail"]] == [
        ("event_time_out_of_range", "refunded_at"),
        ("amount_precision", "amount"),
        ("amount_not_positive", "amount"),
    ]
    assert all(p["message"] for p in resp.json()["detail"])
    assert raw_refunds(live, order_id) == {}


def test_a_retried_refund_gets_the_same_answer_and_both_copies_are_kept(live, refunder):
    # As for conversions: the raw stream keeps what arrived, the warehouse counts an
    # event_id once (the first received).
    order_id = order()
    refund = {"order_id": order_id, "amount": "20.00", "event_id": str(uuid.uuid4())}
    first = refunder.post("/api/refunds", json=refund)
    again = refunder.post("/api/refunds", json=refund)
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    batch = {"events": [refund | {"amount": "1.00", "event_id": str(uuid.uuid4())}]}
    first_batch = refunder.post("/api/refunds/batch", json=batch)
    again_batch = refunder.post("/api/refunds/batch", json=batch)
    assert first_batch.status_code == again_batch.status_code == 202
    assert first_batch.json() == again_batch.json()
    rows = [r for rows in raw_refunds(live, order_id).values() for r in rows]
    assert sorted(r["event_id"] for r in rows) == sorted(
        [refund["event_id"]] * 2 + [batch["events"][0]["event_id"]] * 2
    )


def test_a_batch_keeps_its_good_refunds(live, refunder):
    order_id = order()
    events = [
        {"order_id": order_id, "amount": 10, "refunded_at": "2026-03-01T08:00:00Z"},
        {"order_id": order_id, "amount": "1e3"},
        "not an object",
        {"amount": "5.00"},
        {"order_id": order_id, "amount": "2.25", "reason": "x" * 501},
        {"order_id": order_id, "amount": "2.25", "refunded_at": "2026-03-01 09:00:00"},
    ]
    resp = refunder.post("/api/refunds/batch", json={"events": events})
    assert resp.status_code == 202, resp.text
    answer = resp.json()
    assert (answer["accepted"], answer["rejected"]) == (2, 4)
    results = answer["results"]
    assert [r["status"] for r in results] == [
        "accepted",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "accepted",
    ]
    assert [[(e["code"], e["field"]) for e in r["errors"]] for r in results[1:5]] == [
        [("invalid_amount", "amount")],
        [("invalid_body", None)],
        [("missing_field", "order_id")],
        [("invalid_reason", "reason")],
    ]
    (day,) = raw_refunds(live, order_id).values()
    assert sorted((r["event_id"], r["amount"]) for r in day) == sorted(
        [(results[0]["event_id"], Decimal("10.00")), (results[5]["event_id"], Decimal("2.25"))]
    )


def test_a_batch_of_more_than_500_is_refused_whole(live, refunder):
    order_id = order()
    events = [{"order_id": order_id, "amount": 1}] * 501
    resp = refunder.post("/api/refunds/batch", json={"events": events})
    assert resp.status_code == 422
    assert (resp.json()["detail"]["code"], resp.json()["detail"]["field"]) == (
        "too_many_events",
        "events",
    )
    assert raw_refunds(live, order_id) == {}


def test_metrics_count_refunds_accepted_and_refused_by_code(live, refunder):
    order_id = order()
    refunder.post("/api/refunds", json={"order_id": order_id, "amount": 1})
    refunder.post("/api/refunds", json={"order_id": order_id, "amount": 0})
    metrics = httpx.get(f"{live.base_url}/metrics").text
    assert 'convtrack_events_accepted_total{stream="refunds"}' in metrics
    assert 'convtrack_events_rejected_total{code="amount_not_positive"}' in metrics


# Who may refund.


@pytest.mark.parametrize("path", REFUND_PATHS)
def test_tokens(live, path):
    order_id = order()
    body = {"order_id": order_id, "amount": "1.00"}
    if path.endswith("/batch"):
        body = {"events": [body]}
    cases = [
        (None, 401, "missing_token"),
        ("wrong", 403, "invalid_token"),
        (f"{REFUND_TOKEN}x", 403, "invalid_token"),
        (live.read_token, 403, "invalid_token"),
        (live.admin_token, 202, None),
        (REFUND_TOKEN, 202, None),
    ]
    for token, status, code in cases:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        resp = httpx.post(f"{live.base_url}{path}", json=body, headers=headers)
        assert resp.status_code == status, (token, resp.text)
        if code is not None:
            assert resp.json()["detail"]["code"] == code
    # Refused requests stored nothing: one row per accepted one.
    rows = [r for rows in raw_refunds(live, order_id).values() for r in rows]
    assert len(rows) == 2
    # Neither token, nor the wrong ones, reach the collector's log.
    log = (live.data_dir.parent / "collector.log").read_text()
    assert REFUND_TOKEN not in log and live.admin_token not in log


def test_the_refund_token_opens_nothing_else(live, refunder):
    assert refunder.get("/api/campaign-links").status_code == 403
    assert refunder.post("/api/admin/import", json={"refunds": []}).status_code == 403
    assert refunder.post("/api/admin/flush").status_code == 403
    link = "01a212cd-fcab-74e8-bbb7-203e94aeca9b"
    assert refunder.get(f"/api/conversions/funnel/{link}").status_code == 403


def test_the_trackers_public_path_cannot_refund(live):
    """A browser holds no token: the tracker's endpoint takes no refund, and CORS lets no
    landing page send the Authorization header a refund needs."""
    with live.admin() as admin:
        link = admin.post(
            "/api/campaign-links",
            json={
                "short_code": f"r-{uuid.uuid4().hex[:8]}",
                "destination_url": "https://shop.example/",
            },
        ).json()
    order_id = order()
    public = httpx.Client(base_url=live.base_url, headers={"Origin": "https://shop.example"})
    with public:
        script = public.get("/api/conversions/script").text
        assert "/api/refunds" not in script
        for event in (
            {"event_type": "refund", "revenue_amount": "10.00"},
            {"event_type": "purchase", "revenue_amount": "-10.00"},
        ):
            resp = public.post(
                "/api/conversions",
                json={
                    "tracking_id": str(uuid.uuid4()),
                    "campaign_link_id": link["campaign_link_id"],
                    "order_id": order_id,
                    **event,
                },
            )
            assert resp.status_code == 422, resp.text
        # The landing page's origin is allowed for the tracker, not for a refund's token.
        preflight = public.options(
            "/api/refunds",
            headers={
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 400
        assert "authorization" not in preflight.headers.get("access-control-allow-headers", "")
        # Without its token a refund from the page is refused, whatever the origin.
        resp = public.post("/api/refunds", json={"order_id": order_id, "amount": "10.00"})
        assert resp.status_code == 401
    assert raw_refunds(live, order_id) == {}


def test_with_no_token_configured_refunds_are_closed(tmp_path: Path):
    collector = start_collector(
        tmp_path / "data", tmp_path / "collector.log", CONVTRACK_ADMIN_TOKEN=""
    )
    try:
        for token in (None, "anything", REFUND_TOKEN):
            headers = {} if token is None else {"Authorization": f"Bearer {token}"}
            for path in REFUND_PATHS:
                resp = httpx.post(
                    f"{collector.base_url}{path}",
                    json={"order_id": "A-1", "amount": 1, "events": []},
                    headers=headers,
                )
                assert resp.status_code == 403, (token, resp.text)
                assert resp.json()["detail"]["code"] == "endpoint_closed"
    finally:
        stop_collector(collector)
    assert not (tmp_path / "data" / "raw" / "refunds").exists()
