"""Refunds on the whole path (docs/rules.md#refunds): real HTTP to a real uvicorn with the
refund token, raw Parquet, one real pipeline run into a real DuckDB file, then the
published marts, the refund ledger and the read API.

Every expected number is worked out by hand from what the test sends:

- link a (video A): purchase order-a of 100.00; refunds 30.00 (sent twice, one event_id)
  and 20.00: 50.00 refunded, 50.00 net.
- link b (video B): purchase order-b of 20.50; refunds 5.00, then 25.00 (an over-refund:
  15.50 fills the order, 9.50 goes to the ledger as exceeds_order_revenue): 20.50
  refunded, 0.00 net.
- a refund of 12.34 of an order no purchase has: the ledger, order_not_credited.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import duckdb
import httpx
import pytest
from dagster import DagsterInstance

from convtrack.core.settings import Settings
from orchestration.run import run_pipeline
from tests.conftest import start_collector, stop_collector

HUMAN = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
VIDEOS = {"a": "vidAAAAAAAA", "b": "vidBBBBBBBB"}
MODELS = {"last_click", "first_click", "linear", "position_based", "time_decay"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Send the purchases and refunds, run the pipeline once; the tests read what it built."""
    tmp = tmp_path_factory.mktemp("e2e-refunds")
    data_dir = tmp / "data"
    token = secrets.token_hex(8)
    # One worker: the admin flush below flushes the log of the worker that answers it.
    collector = start_collector(
        data_dir, tmp / "collector.log", workers=1, CONVTRACK_REFUND_TOKEN=token
    )
    try:
        yield {"collector": collector, **_drive(collector, token, data_dir)}
    finally:
        stop_collector(collector)


def _drive(collector, refund_token: str, data_dir) -> dict:
    today = dt.datetime.now(dt.UTC).date()
    orders = {code: f"order-{code}-{uuid.uuid4()}" for code in VIDEOS}
    unknown = f"order-never-sold-{uuid.uuid4()}"
    with collector.admin() as admin:
        links = {}
        for code, video in VIDEOS.items():
            resp = admin.post(
                "/api/campaign-links",
                json={
                    "short_code": code,
                    "destination_url": f"https://creator.example/{code}",
                    "campaign_name": f"video {code}",
                    "youtube_video_id": video,
                    "placement": "description",
                },
            )
            assert resp.status_code == 201, resp.text
            links[code] = resp.json()["campaign_link_id"]
        for code, revenue in (("a", "100.00"), ("b", "20.50")):
            click = admin.get(f"/c/{code}", headers={"User-Agent": HUMAN})
            assert click.status_code == 302, click.text
            q = parse_qs(urlparse(click.headers["location"]).query)
            resp = admin.post(
                "/api/conversions",
                json={
                    "tracking_id": q["ct_tracking_id"][0],
                    "campaign_link_id": q["ct_campaign_link_id"][0],
                    "event_type": "purchase",
                    "revenue_amount": revenue,
                    "order_id": orders[code],
                },
            )
            assert resp.status_code == 202, resp.text

    # The merchant's back office, with its own token; each refund later than the last.
    with httpx.Client(
        base_url=collector.base_url,
        headers={"Authorization": f"Bearer {refund_token}"},
        timeout=30,
    ) as office:
        first = {"order_id": orders["a"], "amount": "30.00", "reason": "changed mind"}
        sent = office.post("/api/refunds", json=first)
        assert sent.status_code == 202, sent.text
        retried = office.post("/api/refunds", json={**first, "event_id": sent.json()["event_id"]})
        assert retried.status_code == 202, retried.text
        batch = office.post(
            "/api/refunds/batch",
            json={
                "events": [
                    {"order_id": orders["a"], "amount": "20.00", "reason": "damaged"},
                    {"order_id": orders["b"], "amount": "5.00"},
                ]
            },
        )
        assert batch.status_code == 202, batch.text
        assert batch.json()["accepted"] == 2
        over = office.post(
            "/api/refunds",
            json={"order_id": orders["b"], "amount": "25.00", "reason": "chargeback"},
        )
        assert over.status_code == 202, over.text
        stray = office.post(
            "/api/refunds/batch", json={"events": [{"order_id": unknown, "amount": 12.34}]}
        )
        assert stray.status_code == 202, stray.text
        # The public tracker's path holds no token: refused.
        assert (
            httpx.post(f"{collector.base_url}/api/refunds", json=first, timeout=30).status_code
            == 401
        )
    with collector.admin() as admin:
        assert admin.post("/api/admin/flush").status_code == 200

    settings = Settings(data_dir=data_dir)
    run = run_pipeline(settings, today, instance=DagsterInstance.ephemeral())
    assert run is not None and run.success
    return {
        "settings": settings,
        "links": links,
        "orders": orders,
        "unknown": unknown,
        "over_event": over.json()["event_id"],
        "stray_event": stray.json()["results"][0]["event_id"],
        "today": today,
    }


def _rows(world, sql: str) -> list[tuple]:
    with duckdb.connect(str(world["settings"].published_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_the_funnel_has_gross_refunded_and_net_per_link(world):
    rows = _rows(
        world,
        "select short_code, purchases, revenue, refunded_revenue, net_revenue, refund_rate "
        "from mart_conversion_funnel order by short_code",
    )
    assert rows == [
        ("a", 1, Decimal("100.00"), Decimal("50.00"), Decimal("50.00"), pytest.approx(0.5)),
        ("b", 1, Decimal("20.50"), Decimal("20.50"), Decimal("0.00"), pytest.approx(1.0)),
    ]


def test_the_video_mart_has_gross_refunded_and_net_per_video(world):
    rows = _rows(
        world,
        "select youtube_video_id, purchases, revenue, refunded_revenue, net_revenue "
        "from mart_video_revenue order by youtube_video_id",
    )
    assert rows == [
        (VIDEOS["a"], 1, Decimal("100.00"), Decimal("50.00"), Decimal("50.00")),
        (VIDEOS["b"], 1, Decimal("20.50"), Decimal("20.50"), Decimal("0.00")),
    ]


def test_each_credited_refund_once_the_retry_counted_once(world):
    rows = _rows(
        world,
        "select order_id, amount, credited_amount, order_refunded_through from fct_refunds "
        "order by order_id, order_refunded_through",
    )
    a, b = world["orders"]["a"], world["orders"]["b"]
    expected = [
        (a, Decimal("30.00"), Decimal("30.00"), Decimal("30.00")),
        (a, Decimal("20.00"), Decimal("20.00"), Decimal("50.00")),
        (b, Decimal("5.00"), Decimal("5.00"), Decimal("5.00")),
        (b, Decimal("25.00"), Decimal("15.50"), Decimal("20.50")),
    ]
    assert rows == expected
    # The daily view of the same refunds, both ways (all on the purchases' day here).
    daily = _rows(
        world,
        "select l.short_code, sum(cash_refunds), sum(cash_refunded_revenue), "
        "sum(accrual_refunds), sum(accrual_refunded_revenue) from agg_daily_link_refunds "
        "join dim_campaign_links l using (campaign_link_id) group by 1 order by 1",
    )
    assert daily == [
        ("a", 2, Decimal("50.00"), 2, Decimal("50.00")),
        ("b", 2, Decimal("20.50"), 2, Decimal("20.50")),
    ]


def test_the_refund_ledger_has_the_over_refund_and_the_unknown_order(world):
    rows = _rows(
        world,
        "select event_id, order_id, reason, amount, uncredited_amount, merchant_reason "
        "from fct_unattributed_refunds order by reason",
    )
    assert rows == [
        (
            world["over_event"],
            world["orders"]["b"],
            "exceeds_order_revenue",
            Decimal("25.00"),
            Decimal("9.50"),
            "chargeback",
        ),
        (
            world["stray_event"],
            world["unknown"],
            "order_not_credited",
            Decimal("12.34"),
            Decimal("12.34"),
            None,
        ),
    ]


def test_the_read_api_answers_the_same_net_figures(world):
    today = world["today"].isoformat()
    expected = {"a": ("100.00", "50.00", "50.00", 0.5), "b": ("20.50", "20.50", "0.00", 1.0)}
    with world["collector"].reader() as reader:
        for code, (gross, refunded, net, rate) in expected.items():
            link = world["links"][code]
            funnel = reader.get(f"/api/conversions/funnel/{link}")
            assert funnel.status_code == 200, funnel.text
            f = funnel.json()
            assert (f["revenue"], f["gross_revenue"], f["refunded_revenue"], f["net_revenue"]) == (
                gross,
                gross,
                refunded,
                net,
            )
            assert f["refund_rate"] == pytest.approx(rate)
            # Over days (the accrual view): the purchases and their refunds are of today.
            # The reporting day may not be the UTC one: a span of three days holds today.
            days = reader.get(
                f"/api/conversions/funnel/{link}",
                params={
                    "from": (world["today"] - dt.timedelta(days=1)).isoformat(),
                    "to": (world["today"] + dt.timedelta(days=1)).isoformat(),
                },
            ).json()
            assert (days["gross_revenue"], days["refunded_revenue"], days["net_revenue"]) == (
                gross,
                refunded,
                net,
            )
            types = reader.get(f"/api/conversions/types/{link}").json()["types"]
            assert [
                (t["event_type"], t["gross_revenue"], t["refunded_revenue"], t["net_revenue"])
                for t in types
            ] == [("purchase", gross, refunded, net)]
            models = reader.get(f"/api/conversions/models/{link}").json()["models"]
            # One touch per purchase: every model gives the link all of it.
            assert {m["attribution_model"] for m in models} == MODELS
            assert {
                (m["event_type"], m["credited_revenue"], m["refunded_revenue"], m["net_revenue"])
                for m in models
            } == {("purchase", gross, refunded, net)}
        assert reader.get(f"/api/conversions/funnel/{world['links']['a']}").json()["as_of"] == today
