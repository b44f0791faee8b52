"""The read API against a small published snapshot built here with the marts' columns."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import duckdb
import pytest

from tests.collector.conftest import uuid7_at

TRACKING = "01a212cd-fcab-74e8-bbb7-203e94aeca9b"
LINK = "01a212cd-0000-7000-8000-000000000001"
EMPTY_LINK = "01a212cd-0000-7000-8000-000000000002"

SNAPSHOT_SQL = f"""
create table _meta as select date '2026-11-20' as as_of, 'run-1' as run_id,
    timestamp '2026-11-20 03:00:00' as built_at;
create table mart_attribution as select
    '{TRACKING}' as tracking_id, '{LINK}' as campaign_link_id,
    timestamp '2026-11-01 10:00:00' as clicked_at, false as is_bot, 2::bigint as conversions,
    49.50::decimal(18,2) as revenue, timestamp '2026-11-02 10:00:00' as first_converted_at,
    timestamp '2026-11-05 10:00:00' as last_converted_at,
    timestamp '2026-12-02 10:00:00' as window_ends_at, true as is_window_open;
create table fct_conversions as select * from (values
    ('e1', '{TRACKING}', '{LINK}', 'newsletter_signup', null::decimal(10,2), 'USD', null,
     '{{"list":"weekly"}}', timestamp '2026-11-02 10:00:00', timestamp '2026-11-02 10:00:01',
     'api', timestamp '2026-11-01 10:00:00', 1),
    ('e2', '{TRACKING}', '{LINK}', 'purchase', 49.5::decimal(10,2), 'USD', 'o-1', null,
     timestamp '2026-11-05 10:00:00', timestamp '2026-11-05 10:00:01', 'api',
     timestamp '2026-11-01 10:00:00', 4)
) t(event_id, tracking_id, campaign_link_id, event_type, revenue_amount, currency, order_id,
    event_data, converted_at, received_at, source, clicked_at, days_since_click);
create table mart_conversion_funnel as select * from (values
    ('{LINK}', 'launch', 'Launch', 'vid1', 'description', 40::bigint, 3::bigint, 4::bigint,
     5::bigint, 2::bigint, 1::bigint, 2::bigint, 149.00::decimal(18,2), 0.1, 0.05, 0.025, 0.05,
     30.00::decimal(18,2), 119.00::decimal(18,2), 30 / 149),
    ('{EMPTY_LINK}', 'quiet', null, null, null, 0::bigint, 0::bigint, 0::bigint, 0::bigint,
     0::bigint, 0::bigint, 0::bigint, 0::decimal(18,2), null, null, null, null,
     0::decimal(18,2), 0::decimal(18,2), null)
) t(campaign_link_id, short_code, campaign_name, youtube_video_id, placement, clicks,
   bot_clicks, converting_clicks, conversions, newsletter_signups, course_enrollments,
   purchases, revenue, click_to_conversion_rate, newsletter_signup_rate,
   course_enrollment_rate, purchase_rate, refunded_revenue, net_revenue, refund_rate);
create table mart_revenue_by_type as select * from (values
    ('{LINK}', 'newsletter_signup', 2::bigint, 0::decimal(18,2), null::decimal(18,2),
     0::decimal(18,2), 0::decimal(18,2), null),
    ('{LINK}', 'purchase', 2::bigint, 149::decimal(18,2), 74.5::decimal(18,2),
     30::decimal(18,2), 119::decimal(18,2), 30 / 149),
    ('{LINK}', 'course_enrollment', 1::bigint, 0::decimal(18,2), 0::decimal(18,2),
     0::decimal(18,2), 0::decimal(18,2), null)
) t(campaign_link_id, event_type, conversions, revenue, avg_revenue, refunded_revenue,
   net_revenue, refund_rate);
create table mart_attribution_models as select * from (values
    ('{LINK}', 'purchase', 'last_click', 2::decimal(18,6), 149::decimal(18,2),
     30::decimal(18,2), 119::decimal(18,2)),
    ('{LINK}', 'purchase', 'linear', 1.5::decimal(18,6), 120.25::decimal(18,2),
     22.5::decimal(18,2), 97.75::decimal(18,2)),
    ('{LINK}', 'newsletter_signup', 'linear', 0.333333::decimal(18,6), 0::decimal(18,2),
     0::decimal(18,2), 0::decimal(18,2))
) t(campaign_link_id, event_type, attribution_model, credited_conversions, credited_revenue,
   refunded_revenue, net_revenue);
create table agg_daily_link_metrics as select * from (values
    (date '2026-11-01', '{LINK}', 'click', 30::bigint, 2::bigint, 0::bigint, 0::decimal(18,2)),
    (date '2026-11-02', '{LINK}', 'click', 10::bigint, 1::bigint, 0::bigint, 0::decimal(18,2)),
    (date '2026-11-02', '{LINK}', 'newsletter_signup', 0::bigint, 0::bigint, 2::bigint,
     0::decimal(18,2)),
    (date '2026-11-01', '{LINK}', 'purchase', 0::bigint, 0::bigint, 1::bigint,
     100::decimal(18,2)),
    (date '2026-11-05', '{LINK}', 'purchase', 0::bigint, 0::bigint, 1::bigint,
     49::decimal(18,2))
) t(metric_date, campaign_link_id, event_type, clicks, bot_clicks, conversions, revenue);
-- 30.00 refunded in all: 20.00 of the purchase of 11-01 (refunded on 11-10), 10.00 of the
-- purchase of 11-05 (refunded that day): cash and accrual views.
create table agg_daily_link_refunds as select * from (values
    (date '2026-11-01', '{LINK}', 0::bigint, 0::decimal(18,2), 1::bigint, 20::decimal(18,2)),
    (date '2026-11-05', '{LINK}', 1::bigint, 10::decimal(18,2), 1::bigint, 10::decimal(18,2)),
    (date '2026-11-10', '{LINK}', 1::bigint, 20::decimal(18,2), 0::bigint, 0::decimal(18,2))
) t(metric_date, campaign_link_id, cash_refunds, cash_refunded_revenue, accrual_refunds,
   accrual_refunded_revenue);
"""


def publish(path: Path, sql: str) -> None:
    """Build a snapshot aside and rename it into place, as the publisher does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("building.duckdb")
    con = duckdb.connect(str(tmp))
    con.execute(sql)
    con.close()
    os.replace(tmp, path)


@pytest.fixture
def snapshot(settings) -> Path:
    publish(settings.published_path, SNAPSHOT_SQL)
    return settings.published_path


def get(client, reader_headers, path: str):
    return client.get(path, headers=reader_headers)


def test_no_snapshot_yet_is_503(client, reader_headers):
    resp = get(client, reader_headers, f"/api/conversions/attribution/{TRACKING}")
    assert resp.status_code == 503
    assert resp.json()["detail"]["code"] == "snapshot_unavailable"


@pytest.mark.parametrize(
    "path",
    [f"/api/conversions/funnel/{LINK}", f"/api/conversions/types/{LINK}?from=2026-03-01"],
)
def test_a_snapshot_older_than_the_collector_is_503_not_500(client, reader_headers, settings, path):
    # Published before refunds existed: the marts lack their columns and tables.
    older = SNAPSHOT_SQL.replace("refunded_revenue", "refunded_revenue_not_yet")
    older = older.replace("agg_daily_link_refunds", "agg_daily_link_refunds_not_yet")
    assert older != SNAPSHOT_SQL
    publish(settings.published_path, older)
    resp = get(client, reader_headers, path)
    assert resp.status_code == 503, resp.text
    assert resp.json()["detail"]["code"] == "snapshot_outdated"
    assert resp.headers["Retry-After"] == "60"


def test_attribution(client, reader_headers, snapshot):
    resp = get(client, reader_headers, f"/api/conversions/attribution/{TRACKING.upper()}")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["as_of"] == "2026-11-20"
    assert body["clicked_at"] == "2026-11-01T10:00:00"
    assert body["revenue"] == "49.50"
    assert (body["window_ends_at"], body["is_window_open"]) == ("2026-12-02T10:00:00", True)
    assert [(e["event_id"], e["revenue_amount"]) for e in body["events"]] == [
        ("e1", None),
        ("e2", "49.50"),
    ]
    assert body["events"][0]["event_data"] == {"list": "weekly"}


def test_funnel_from_the_mart(client, reader_headers, snapshot):
    body = get(client, reader_headers, f"/api/conversions/funnel/{LINK}").json()
    assert body["as_of"] == "2026-11-20"
    assert (body["clicks"], body["converting_clicks"], body["purchases"]) == (40, 4, 2)
    assert body["revenue"] == "149.00"
    assert body["click_to_conversion_rate"] == pytest.approx(0.1)
    assert (body["gross_revenue"], body["refunded_revenue"], body["net_revenue"]) == (
        "149.00",
        "30.00",
        "119.00",
    )
    assert body["refund_rate"] == pytest.approx(30 / 149)
    empty = get(client, reader_headers, f"/api/conversions/funnel/{EMPTY_LINK}").json()
    assert (empty["gross_revenue"], empty["net_revenue"], empty["refund_rate"]) == (
        "0.00",
        "0.00",
        None,
    )


def test_funnel_over_days_is_summed_from_the_daily_history(client, reader_headers, snapshot):
    path = f"/api/conversions/funnel/{LINK}?from=2026-11-02&to=2026-11-05"
    body = get(client, reader_headers, path).json()
    assert (body["from"], body["to"]) == ("2026-11-02", "2026-11-05")
    assert (body["clicks"], body["bot_clicks"]) == (10, 1)
    assert (body["newsletter_signups"], body["purchases"], body["conversions"]) == (2, 1, 3)
    assert body["revenue"] == "49.00"
    assert body["newsletter_signup_rate"] == pytest.approx(2 / 10)
    assert body["purchase_rate"] == pytest.approx(1 / 10)
    assert body["course_enrollment_rate"] == 0
    # The refunds of the purchases of those days (accrual): 10.00 of the one of 11-05; the
    # 20.00 refunded on 11-10 was of the purchase of 11-01.
    assert (body["gross_revenue"], body["refunded_revenue"], body["net_revenue"]) == (
        "49.00",
        "10.00",
        "39.00",
    )
    assert body["refund_rate"] == pytest.approx(10 / 49)
    late = f"/api/conversions/funnel/{LINK}?from=2026-11-06"
    body = get(client, reader_headers, late).json()
    assert (body["revenue"], body["refunded_revenue"], body["refund_rate"]) == (
        "0.00",
        "0.00",
        None,
    )


def test_types_all_time_and_over_days(client, reader_headers, snapshot):
    body = get(client, reader_headers, f"/api/conversions/types/{LINK}").json()
    assert [
        (t["event_type"], t["revenue"], t["avg_revenue"], t["refunded_revenue"], t["net_revenue"])
        for t in body["types"]
    ] == [
        ("course_enrollment", "0.00", "0.00", "0.00", "0.00"),
        ("newsletter_signup", "0.00", None, "0.00", "0.00"),
        ("purchase", "149.00", "74.50", "30.00", "119.00"),
    ]
    assert [t["refund_rate"] for t in body["types"]] == [None, None, pytest.approx(30 / 149)]
    assert all(t["gross_revenue"] == t["revenue"] for t in body["types"])
    body = get(client, reader_headers, f"/api/conversions/types/{LINK}?to=2026-11-01").json()
    assert body["types"] == [
        {
            "event_type": "purchase",
            "conversions": 1,
            "revenue": "100.00",
            "avg_revenue": "100.00",
            "gross_revenue": "100.00",
            "refunded_revenue": "20.00",
            "net_revenue": "80.00",
            "refund_rate": pytest.approx(0.2),
        }
    ]
    body = get(client, reader_headers, f"/api/conversions/types/{LINK}?from=2026-11-02").json()
    assert [(t["event_type"], t["refunded_revenue"], t["net_revenue"]) for t in body["types"]] == [
        ("newsletter_signup", "0.00", "0.00"),
        ("purchase", "10.00", "39.00"),
    ]


def test_a_link_without_traffic_is_found_and_empty(client, reader_headers, snapshot):
    body = get(client, reader_headers, f"/api/conversions/types/{EMPTY_LINK}").json()
    assert body["types"] == []
    body = get(client, reader_headers, f"/api/conversions/models/{EMPTY_LINK}").json()
    assert body["models"] == []


def test_models_per_type_and_model(client, reader_headers, snapshot):
    resp = get(client, reader_headers, f"/api/conversions/models/{LINK.upper()}")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["as_of"], body["campaign_link_id"]) == ("2026-11-20", LINK)
    assert [tuple(m.values()) for m in body["models"]] == [
        ("newsletter_signup", "linear", "0.333333", "0.00", "0.00", "0.00"),
        ("purchase", "last_click", "2.000000", "149.00", "30.00", "119.00"),
        ("purchase", "linear", "1.500000", "120.25", "22.50", "97.75"),
    ]


@pytest.mark.parametrize(
    "path",
    [
        "/api/conversions/attribution/01a212cd-fcab-74e8-bbb7-000000000000",
        "/api/conversions/funnel/01a212cd-fcab-74e8-bbb7-000000000000",
        "/api/conversions/types/01a212cd-fcab-74e8-bbb7-000000000000",
        "/api/conversions/models/01a212cd-fcab-74e8-bbb7-000000000000",
    ],
)
def test_unknown_ids_are_404(client, reader_headers, snapshot, path):
    resp = get(client, reader_headers, path)
    assert resp.status_code == 404
    assert resp.json()["detail"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("path", "code", "field"),
    [
        ("/api/conversions/attribution/nope", "invalid_uuid", "tracking_id"),
        ("/api/conversions/models/nope", "invalid_uuid", "campaign_link_id"),
        (f"/api/conversions/funnel/{LINK}?from=yesterday", "invalid_body", "from"),
        (f"/api/conversions/funnel/{LINK}?from=2026-11-05&to=2026-11-01", "invalid_range", "from"),
    ],
)
def test_bad_parameters_are_422(client, reader_headers, snapshot, path, code, field):
    resp = get(client, reader_headers, path)
    assert resp.status_code == 422
    assert (resp.json()["detail"]["code"], resp.json()["detail"]["field"]) == (code, field)


def test_a_replaced_snapshot_is_picked_up(client, reader_headers, snapshot):
    path = f"/api/conversions/funnel/{LINK}"
    assert get(client, reader_headers, path).json()["as_of"] == "2026-11-20"
    publish(snapshot, SNAPSHOT_SQL.replace("2026-11-20'", "2026-11-21'"))
    assert get(client, reader_headers, path).json()["as_of"] == "2026-11-21"


def test_a_click_retention_removed_is_said_so(client, reader_headers, snapshot):
    publish(
        snapshot,
        SNAPSHOT_SQL.replace(
            "timestamp '2026-11-20 03:00:00' as built_at;",
            "timestamp '2026-11-20 03:00:00' as built_at, date '2026-10-20' as retained_since;",
        ),
    )
    pruned = uuid7_at(dt.datetime(2026, 10, 19, 23, 59))
    body = get(client, reader_headers, f"/api/conversions/attribution/{pruned}").json()
    assert body["detail"]["code"] == "click_pruned"
    assert body["detail"]["field"] == "tracking_id"
    assert "2026-10-19" in body["detail"]["message"]
    assert "before 2026-10-20" in body["detail"]["message"]
    # Kept by retention, or an id without a click time inside: not found, and the
    # message says what retention removes.
    for tracking in (uuid7_at(dt.datetime(2026, 10, 20)), "01a212cd-fcab-44e8-bbb7-000000000000"):
        resp = get(client, reader_headers, f"/api/conversions/attribution/{tracking}")
        assert resp.status_code == 404
        assert resp.json()["detail"]["code"] == "not_found"
        assert (
            "clicks before 2026-10-20 were removed by retention" in resp.json()["detail"]["message"]
        )


def test_before_any_prune_a_missing_click_is_not_found(client, reader_headers, snapshot):
    old = uuid7_at(dt.datetime(2020, 1, 1))
    resp = get(client, reader_headers, f"/api/conversions/attribution/{old}")
    assert resp.status_code == 404
    assert resp.json()["detail"]["code"] == "not_found"
    assert "retention" not in resp.json()["detail"]["message"]


@pytest.mark.parametrize(
    "path",
    [
        f"/api/conversions/attribution/{TRACKING}",
        f"/api/conversions/funnel/{LINK}",
        f"/api/conversions/funnel/{LINK}?from=2026-11-02",
        f"/api/conversions/types/{LINK}",
        f"/api/conversions/models/{LINK}",
    ],
)
def test_openapi_documents_every_field_the_read_api_answers(client, reader_headers, snapshot, path):
    spec = client.get("/openapi.json").json()
    template = next(p for p in spec["paths"] if p.startswith(path.rsplit("/", 1)[0] + "/"))
    ref = spec["paths"][template]["get"]["responses"]["200"]["content"]["application/json"]
    schema = spec["components"]["schemas"][ref["schema"]["$ref"].rsplit("/", 1)[1]]
    body = get(client, reader_headers, path).json()
    assert list(body) == list(schema["properties"])
    assert set(schema["required"]) == set(body)
