"""What the report shows, read from the published snapshot (docs/report.md).

Only sums and filters of the marts: every business rule (attribution, bots, the
window, retention) was applied by dbt. Daily figures come from `agg_daily_link_metrics`,
the history retention never prunes, refunds per day from `agg_daily_link_refunds`; the
funnel, revenue, per-video net revenue and model comparison tables are the lifetime marts'
rows; days-to-convert and the ledger are row-level and cover what retention keeps; the
refund ledger holds every refund (refunds are never pruned).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb


class SnapshotMissing(RuntimeError):
    """No published snapshot to report from."""


class ReportOptionError(ValueError):
    """An option of the report that cannot be honoured; `option` names it."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


@dataclass(frozen=True)
class Period:
    """Days `start`..`end`, inclusive, in the reporting time zone."""

    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length that ends the day before this one starts."""
        end = self.start - dt.timedelta(days=1)
        return Period(end - dt.timedelta(days=self.days - 1), end)


@dataclass(frozen=True)
class Totals:
    clicks: int = 0
    conversions: int = 0
    revenue: Decimal = Decimal("0.00")  # gross
    # What credited refunds took back from the period's purchases (the accrual view:
    # a refund is charged to its purchase's day, docs/rules.md#refunds).
    refunded: Decimal = Decimal("0.00")

    @property
    def net_revenue(self) -> Decimal:
        return self.revenue - self.refunded

    @property
    def conversion_rate(self) -> float | None:
        """Attributed conversions per human click (the daily history holds no converting
        clicks per day, so a period's rate is conversions / clicks)."""
        return self.conversions / self.clicks if self.clicks else None


@dataclass
class ReportData:
    meta: dict[str, Any] | None
    period: Period | None
    video: str | None
    current: Totals = field(default_factory=Totals)
    previous: Totals = field(default_factory=Totals)
    videos: list[str] = field(default_factory=list)
    # Table name -> (columns, rows as dicts): the marts' rows the page shows and offers as CSV.
    tables: dict[str, tuple[list[str], list[dict[str, Any]]]] = field(default_factory=dict)

    @property
    def has_clicks(self) -> bool:
        return any(r["clicks"] or r["bot_clicks"] for r in self.rows("daily"))

    @property
    def has_conversions(self) -> bool:
        return any(r["conversions"] for r in self.rows("daily"))

    def columns(self, table: str) -> list[str]:
        return self.tables.get(table, ([], []))[0]

    def rows(self, table: str) -> list[dict[str, Any]]:
        return self.tables.get(table, ([], []))[1]


LINK_COLUMNS = "campaign_link_id, short_code, campaign_name, youtube_video_id, placement"


def _counted_by(table: str, key: str, order: str) -> str:
    """Conversions and their revenue in a row-level mart, by `key`, type and video."""
    return f"""
        select c.{key}, c.event_type, l.youtube_video_id, count(*) as conversions,
               cast(coalesce(sum(c.revenue_amount), 0) as decimal(18, 2)) as revenue
        from {table} c
        left join dim_campaign_links l using (campaign_link_id)
        where {{video}}
        group by all
        order by {order}, c.event_type, l.youtube_video_id nulls last
    """


# Each table of the page: the SQL over the snapshot, `{video}` standing for the filter on
# the link's video (dim_campaign_links / the funnel mart carry youtube_video_id).
QUERIES: dict[str, str] = {
    # The daily history, every kept day, joined to the link's video.
    "daily": """
        select d.metric_date, d.campaign_link_id, l.youtube_video_id, d.event_type,
               d.clicks, d.bot_clicks, d.conversions, d.revenue
        from agg_daily_link_metrics d
        left join dim_campaign_links l using (campaign_link_id)
        where {video}
        order by d.metric_date, d.campaign_link_id, d.event_type
    """,
    "funnel": """
        select * from mart_conversion_funnel f
        where {video}
        order by f.youtube_video_id nulls last, f.short_code, f.campaign_link_id
    """,
    "revenue_by_type": """
        select l.youtube_video_id, l.short_code, r.*
        from mart_revenue_by_type r
        left join dim_campaign_links l using (campaign_link_id)
        where {video}
        order by l.youtube_video_id nulls last, l.short_code, r.campaign_link_id, r.event_type
    """,
    # One row per video: each attribution model's revenue and conversions, side by side.
    "model_comparison": """
        select * from mart_model_comparison m
        where {video}
        order by m.youtube_video_id nulls last
    """,
    "days_to_convert": _counted_by("fct_conversions", "days_since_click", "days_since_click"),
    "ledger": _counted_by("fct_unattributed_conversions", "reason", "conversions desc, reason"),
    # Credited refunds per day and link, on their own day (cash) and on their purchase's
    # day (accrual): the headline's net revenue.
    "daily_refunds": """
        select r.metric_date, r.campaign_link_id, l.youtube_video_id, r.cash_refunds,
               r.cash_refunded_revenue, r.accrual_refunds, r.accrual_refunded_revenue
        from agg_daily_link_refunds r
        left join dim_campaign_links l using (campaign_link_id)
        where {video}
        order by r.metric_date, r.campaign_link_id
    """,
    # Gross, refunded and net revenue and the refund rate per video.
    "videos": """
        select * from mart_video_revenue v
        where {video}
        order by v.youtube_video_id nulls last
    """,
    # The refund ledger: refunds (or their parts) credited to no purchase, by reason and
    # the video of the order's purchase (none for an order never credited).
    "refund_ledger": """
        select u.reason, u.youtube_video_id, count(*) as refunds,
               cast(sum(u.amount) as decimal(18, 2)) as amount,
               cast(sum(u.uncredited_amount) as decimal(18, 2)) as uncredited_amount
        from fct_unattributed_refunds u
        where {video}
        group by all
        order by refunds desc, u.reason, u.youtube_video_id nulls last
    """,
}
# Where the video filter applies, per query: the alias that carries youtube_video_id.
VIDEO_ALIAS = {"funnel": "f", "model_comparison": "m", "videos": "v", "refund_ledger": "u"}


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> tuple[list, list]:
    result = con.execute(sql, params)
    names = [d[0] for d in result.description]
    return names, [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def read_meta(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    _, rows = _rows(con, "select * from _meta limit 1", [])
    return rows[0] if rows else None


def known_videos(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        v
        for (v,) in con.execute(
            "select distinct youtube_video_id from dim_campaign_links "
            "where youtube_video_id is not null order by 1"
        ).fetchall()
    ]


def choose_period(
    meta: dict[str, Any] | None,
    start: dt.date | None,
    end: dt.date | None,
    default_days: int,
) -> Period | None:
    """The headline period: --from..--to, by default the `default_days` days ending on the
    snapshot's as-of day; None when the snapshot says no as-of day and none was given."""
    as_of = meta.get("as_of") if meta else None
    if end is None:
        end = as_of if start is None or as_of is None or as_of >= start else None
    if end is None and start is not None:
        end = start + dt.timedelta(days=default_days - 1)
    if end is None:
        return None
    if start is None:
        start = end - dt.timedelta(days=default_days - 1)
    return Period(start, end)


def totals(daily: list[dict[str, Any]], refunds: list[dict[str, Any]], period: Period) -> Totals:
    """Human clicks, attributed conversions, revenue and what refunds took back from the
    period's purchases, summed over the period's days."""

    def inside(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in rows if period.start <= r["metric_date"] <= period.end]

    days = inside(daily)
    return Totals(
        clicks=sum(int(r["clicks"]) for r in days),
        conversions=sum(int(r["conversions"]) for r in days),
        revenue=sum((Decimal(r["revenue"] or 0) for r in days), Decimal("0.00")),
        refunded=sum(
            (Decimal(r["accrual_refunded_revenue"] or 0) for r in inside(refunds)),
            Decimal("0.00"),
        ),
    )


def load(
    published_path: Path,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    video: str | None = None,
    default_days: int,
) -> ReportData:
    """Every figure of the report, from the snapshot at `published_path` (read-only)."""
    # Only days given both ways can be out of order (a default end or start never is);
    # checked first, so a wrong command line is told so with or without a snapshot.
    if start is not None and end is not None and start > end:
        raise ReportOptionError("--from", f"--from {start} is after --to {end}")
    if not published_path.exists():
        raise SnapshotMissing(
            f"no published snapshot at {published_path}: run `convtrack pipeline run` first"
        )
    # Attached read-only to a fresh in-memory DuckDB, as the read API does: the
    # publisher may swap the file meanwhile, and this reader never blocks it.
    with duckdb.connect(":memory:") as con:
        con.execute("attach ? as snap (read_only)", [str(published_path)])
        con.execute("use snap")
        meta = read_meta(con)
        videos = known_videos(con)
        if video is not None and video not in videos:
            raise ReportOptionError(
                "--video",
                f"no campaign link names video {video!r}; known videos: "
                + (", ".join(videos) if videos else "none yet"),
            )
        period = choose_period(meta, start, end, default_days)
        data = ReportData(meta=meta, period=period, video=video, videos=videos)
        for name, sql in QUERIES.items():
            alias = VIDEO_ALIAS.get(name, "l")
            where = "true" if video is None else f"{alias}.youtube_video_id = ?"
            params = [] if video is None else [video]
            data.tables[name] = _rows(con, sql.format(video=where), params)
    if period is not None:
        daily, refunds = data.rows("daily"), data.rows("daily_refunds")
        data.current = totals(daily, refunds, period)
        data.previous = totals(daily, refunds, period.previous())
    return data
