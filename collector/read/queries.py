"""The read API's questions to the snapshot's marts; answers as JSON-ready dicts in the
shapes of `collector.read.responses`.

Money is a string with two decimals; times are ISO-8601 UTC. The numbers come from
dbt's marts as they are: no business rule is recomputed here, only summed over days.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import duckdb

from collector.read.snapshot import ALIAS

EVENT_TYPE_COLUMNS = {
    "newsletter_signup": "newsletter_signups",
    "course_enrollment": "course_enrollments",
    "purchase": "purchases",
}
_CENT = Decimal("0.01")
_MILLIONTH = Decimal("0.000001")


def money(value: Any) -> str | None:
    if value is None:
        return None
    return str(Decimal(str(value)).quantize(_CENT))


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


def _rate(numerator: Any, denominator: Any) -> float | None:
    if numerator is None or not denominator:
        return None
    return float(numerator) / float(denominator)


def _rows(cur: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    result = cur.execute(sql.format(s=ALIAS), params)
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def retained_since(cur: duckdb.DuckDBPyConnection) -> dt.date | None:
    """The day from which clicks are kept; None when nothing was pruned (or the snapshot
    predates the column)."""
    rows = _rows(cur, "select * from {s}.main._meta limit 1", [])
    return rows[0].get("retained_since") if rows else None


# The columns of `mart_conversion_funnel` the funnel answer reads, named in the query so
# that a snapshot published by an older version fails there (503 snapshot_outdated), not
# half-way through building an answer.
LINK_COLUMNS = ("campaign_link_id", "short_code", "campaign_name", "youtube_video_id", "placement")
FUNNEL_COUNT_COLUMNS = (
    "clicks",
    "bot_clicks",
    "converting_clicks",
    "conversions",
    "newsletter_signups",
    "course_enrollments",
    "purchases",
)
FUNNEL_RATE_COLUMNS = (
    "click_to_conversion_rate",
    "newsletter_signup_rate",
    "course_enrollment_rate",
    "purchase_rate",
)
NET_COLUMNS = ("revenue", "refunded_revenue", "net_revenue", "refund_rate")
FUNNEL_COLUMNS = LINK_COLUMNS + FUNNEL_COUNT_COLUMNS + FUNNEL_RATE_COLUMNS + NET_COLUMNS


def funnel_row(cur: duckdb.DuckDBPyConnection, campaign_link_id: str) -> dict | None:
    """The link's row of `mart_conversion_funnel` (every link has one), or None when the
    snapshot knows no such link."""
    rows = _rows(
        cur,
        f"select {', '.join(FUNNEL_COLUMNS)} from {{s}}.main.mart_conversion_funnel "
        "where campaign_link_id = ?",
        [campaign_link_id],
    )
    return rows[0] if rows else None


def attribution(cur: duckdb.DuckDBPyConnection, tracking_id: str) -> dict | None:
    """The click behind `tracking_id` and its conversions; None when the snapshot has no
    such click."""
    rows = _rows(
        cur, "select * from {s}.main.mart_attribution where tracking_id = ?", [tracking_id]
    )
    if not rows:
        return None
    click = rows[0]
    events = _rows(
        cur,
        """
        select event_id, event_type, revenue_amount, currency, order_id, event_data,
               converted_at, days_since_click
        from {s}.main.fct_conversions
        where tracking_id = ?
        order by converted_at, event_id
        """,
        [tracking_id],
    )
    return {
        "tracking_id": click["tracking_id"],
        "campaign_link_id": click["campaign_link_id"],
        "clicked_at": _iso(click["clicked_at"]),
        "is_bot": click["is_bot"],
        "conversions": click["conversions"],
        "revenue": money(click["revenue"]),
        "first_converted_at": _iso(click["first_converted_at"]),
        "last_converted_at": _iso(click["last_converted_at"]),
        "window_ends_at": _iso(click["window_ends_at"]),
        "is_window_open": click["is_window_open"],
        "events": [
            {
                **e,
                "revenue_amount": money(e["revenue_amount"]),
                "event_data": json.loads(e["event_data"]) if e["event_data"] else None,
                "converted_at": _iso(e["converted_at"]),
            }
            for e in events
        ],
    }


def _mart_net(row: dict) -> dict:
    """Gross, refunded and net revenue and the refund rate of a mart's row, as the mart
    has them (`revenue` is gross; docs/rules.md#refunds)."""
    return {
        "gross_revenue": money(row["revenue"] or 0),
        "refunded_revenue": money(row["refunded_revenue"]),
        "net_revenue": money(row["net_revenue"]),
        "refund_rate": None if row["refund_rate"] is None else float(row["refund_rate"]),
    }


def _net_between(gross: Decimal, refunded: Decimal) -> dict:
    """The same four figures for sums over days, as the marts define them: net = gross -
    refunded, the rate refunded / gross (null without gross revenue)."""
    return {
        "gross_revenue": money(gross),
        "refunded_revenue": money(refunded),
        "net_revenue": money(gross - refunded),
        "refund_rate": _rate(refunded, gross),
    }


def _link_fields(row: dict) -> dict:
    return {k: row[k] for k in LINK_COLUMNS}


def funnel(row: dict) -> dict:
    """The link's funnel over all time: its `funnel_row`, as it is."""
    return {
        **_link_fields(row),
        "from": None,
        "to": None,
        **{k: row[k] for k in FUNNEL_COUNT_COLUMNS},
        "revenue": money(row["revenue"]),
        **{k: None if row[k] is None else float(row[k]) for k in FUNNEL_RATE_COLUMNS},
        **_mart_net(row),
    }


# The days start..end of a daily table (`metric_date`), either end open when None.
_DAYS = (
    "(cast(? as date) is null or metric_date >= cast(? as date))"
    " and (cast(? as date) is null or metric_date <= cast(? as date))"
)


def _days_params(start: dt.date | None, end: dt.date | None) -> list[dt.date | None]:
    return [start, start, end, end]


def _daily(
    cur: duckdb.DuckDBPyConnection,
    campaign_link_id: str,
    start: dt.date | None,
    end: dt.date | None,
) -> list[dict]:
    return _rows(
        cur,
        """
        select event_type,
               sum(clicks) as clicks, sum(bot_clicks) as bot_clicks,
               sum(conversions) as conversions, sum(revenue) as revenue
        from {s}.main.agg_daily_link_metrics
        where campaign_link_id = ?
          and {days}
        group by event_type
        """.replace("{days}", _DAYS),
        [campaign_link_id, *_days_params(start, end)],
    )


def _refunded_between(
    cur: duckdb.DuckDBPyConnection,
    campaign_link_id: str,
    start: dt.date | None,
    end: dt.date | None,
) -> Decimal:
    """What refunds took back from the link's purchases of the days start..end: the
    accrual view of `agg_daily_link_refunds` (a refund charged to its purchase's day), so
    net revenue over days is the revenue of those days' purchases less their refunds."""
    rows = _rows(
        cur,
        """
        select sum(accrual_refunded_revenue) as refunded
        from {s}.main.agg_daily_link_refunds
        where campaign_link_id = ?
          and {days}
        """.replace("{days}", _DAYS),
        [campaign_link_id, *_days_params(start, end)],
    )
    return Decimal(str(rows[0]["refunded"] or 0))


def funnel_between(
    cur: duckdb.DuckDBPyConnection, row: dict, start: dt.date | None, end: dt.date | None
) -> dict:
    """The funnel of the link of `row` (its `funnel_row`) over the days start..end, summed
    from the daily history; converting clicks are not in it, so they stay null."""
    by_type = {r["event_type"]: r for r in _daily(cur, row["campaign_link_id"], start, end)}
    click_row = by_type.pop("click", {})
    clicks = int(click_row.get("clicks") or 0)
    per_type = {t: int(by_type.get(t, {}).get("conversions") or 0) for t in EVENT_TYPE_COLUMNS}
    conversions = sum(per_type.values())
    revenue = sum((Decimal(str(r["revenue"] or 0)) for r in by_type.values()), Decimal(0))
    answer = {
        **_link_fields(row),
        "from": _iso(start),
        "to": _iso(end),
        "clicks": clicks,
        "bot_clicks": int(click_row.get("bot_clicks") or 0),
        "converting_clicks": None,
        "conversions": conversions,
        **{EVENT_TYPE_COLUMNS[t]: n for t, n in per_type.items()},
        "revenue": money(revenue),
        "click_to_conversion_rate": None,
    }
    for t, column in EVENT_TYPE_COLUMNS.items():
        answer[f"{column[:-1]}_rate"] = _rate(per_type[t], clicks)
    answer |= _net_between(revenue, _refunded_between(cur, row["campaign_link_id"], start, end))
    return answer


def revenue_by_type(
    cur: duckdb.DuckDBPyConnection,
    campaign_link_id: str,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> list[dict]:
    """Conversions and revenue per conversion type, gross, refunded and net: all time, or
    summed over start..end."""
    if start is None and end is None:
        rows = _rows(
            cur,
            """
            select event_type, conversions, revenue, avg_revenue, refunded_revenue,
                   net_revenue, refund_rate
            from {s}.main.mart_revenue_by_type
            where campaign_link_id = ?
            order by event_type
            """,
            [campaign_link_id],
        )
        rows = [{**r, **_mart_net(r)} for r in rows]
    else:
        # Refunds are taken back from purchases only (docs/rules.md#refunds).
        refunded = _refunded_between(cur, campaign_link_id, start, end)
        rows = []
        for r in _daily(cur, campaign_link_id, start, end):
            if r["event_type"] == "click":
                continue
            gross = Decimal(str(r["revenue"] or 0))
            taken = refunded if r["event_type"] == "purchase" else Decimal(0)
            rows.append(
                {
                    **r,
                    "avg_revenue": None if not r["conversions"] else gross / r["conversions"],
                    **_net_between(gross, taken),
                }
            )
        rows.sort(key=lambda r: r["event_type"])
    return [
        {
            "event_type": r["event_type"],
            "conversions": int(r["conversions"] or 0),
            "revenue": money(r["revenue"] or 0),
            "avg_revenue": money(r["avg_revenue"]),
            **{k: r[k] for k in ("gross_revenue", "refunded_revenue", "net_revenue")},
            "refund_rate": r["refund_rate"],
        }
        for r in rows
    ]


def attribution_models(cur: duckdb.DuckDBPyConnection, campaign_link_id: str) -> list[dict]:
    """Credited conversions and revenue, refunded and net revenue per conversion type and
    attribution model (`mart_attribution_models`); none for a link no credited conversion touched."""
    rows = _rows(
        cur,
        """
        select event_type, attribution_model, credited_conversions, credited_revenue,
               refunded_revenue, net_revenue
        from {s}.main.mart_attribution_models
        where campaign_link_id = ?
        order by event_type, attribution_model
        """,
        [campaign_link_id],
    )
    return [
        {
            "event_type": r["event_type"],
            "attribution_model": r["attribution_model"],
            "credited_conversions": str(
                Decimal(str(r["credited_conversions"])).quantize(_MILLIONTH)
            ),
            "credited_revenue": money(r["credited_revenue"]),
            "refunded_revenue": money(r["refunded_revenue"]),
            "net_revenue": money(r["net_revenue"]),
        }
        for r in rows
    ]
