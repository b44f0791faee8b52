"""The report's one HTML file: figures, charts and tables, every script inlined
(docs/report.md). Nothing in the page loads anything: the Content-Security-Policy says
so to the browser too."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from convtrack.core.files import ensure_dir, write_bytes_atomically
from convtrack.report import charts
from convtrack.report.data import ReportData, Totals

Column = tuple[str, str, str]


def model_comparison_columns(names: list[str]) -> list[Column]:
    """The model comparison's columns, from the mart's own (`mart_model_comparison`: a
    `<model>_revenue` and a `<model>_conversions` per attribution model, whose names
    dbt holds): the video, each model's revenue, the spread, each model's conversions."""

    def per_model(suffix: str, kind: str) -> list[Column]:
        return [
            (name, f"{name.removesuffix(suffix).replace('_', ' ')}{suffix.replace('_', ' ')}", kind)
            for name in names
            if name.endswith(suffix)
        ]

    return [
        ("youtube_video_id", "video", "text"),
        *per_model("_revenue", "money"),
        ("revenue_spread", "spread (max - min)", "money"),
        ("revenue_spread_vs_last_click", "spread ÷ last click", "rate"),
        *per_model("_conversions", "share"),
    ]


# Tables the page shows and offers as CSV: id -> (title, the ReportData table, columns
# shown as (column, heading, kind), or a function of the table's column names giving
# them). The CSV holds every column of the table's rows.
TABLES: dict[str, tuple[str, str, list[Column] | Callable[[list[str]], list[Column]]]] = {
    "links": (
        "Links",
        "funnel",
        [
            ("youtube_video_id", "video", "text"),
            ("short_code", "link", "text"),
            ("campaign_name", "campaign", "text"),
            ("placement", "placement", "text"),
            ("clicks", "human clicks", "count"),
            ("bot_clicks", "bot clicks", "count"),
            ("converting_clicks", "converting clicks", "count"),
            ("conversions", "conversions", "count"),
            ("newsletter_signups", "signups", "count"),
            ("course_enrollments", "enrollments", "count"),
            ("purchases", "purchases", "count"),
            ("revenue", "revenue", "money"),
            ("refunded_revenue", "refunds", "money"),
            ("net_revenue", "net", "money"),
            ("refund_rate", "refund rate", "rate"),
            ("click_to_conversion_rate", "click → conversion", "rate"),
        ],
    ),
    "videos": (
        "Gross and net revenue per video",
        "videos",
        [
            ("youtube_video_id", "video", "text"),
            ("purchases", "purchases", "count"),
            ("revenue", "gross", "money"),
            ("refunded_revenue", "refunds", "money"),
            ("net_revenue", "net", "money"),
            ("refund_rate", "refund rate", "rate"),
        ],
    ),
    "revenue_by_type": (
        "Revenue by conversion type",
        "revenue_by_type",
        [
            ("youtube_video_id", "video", "text"),
            ("short_code", "link", "text"),
            ("event_type", "type", "text"),
            ("conversions", "conversions", "count"),
            ("revenue", "revenue", "money"),
            ("avg_revenue", "average", "money"),
            ("refunded_revenue", "refunds", "money"),
            ("net_revenue", "net", "money"),
            ("refund_rate", "refund rate", "rate"),
        ],
    ),
    "model_comparison": (
        "Attribution models per video",
        "model_comparison",
        model_comparison_columns,
    ),
    "ledger": (
        "Not credited",
        "ledger",
        [
            ("reason", "reason", "text"),
            ("event_type", "type", "text"),
            ("youtube_video_id", "video", "text"),
            ("conversions", "conversions", "count"),
            ("revenue", "revenue", "money"),
        ],
    ),
    "refund_ledger": (
        "Refunds not credited",
        "refund_ledger",
        [
            ("reason", "reason", "text"),
            ("youtube_video_id", "video", "text"),
            ("refunds", "refunds", "count"),
            ("amount", "asked back", "money"),
            ("uncredited_amount", "not credited", "money"),
        ],
    ),
}


@cache
def vega_bundle(cache_dir: Path | None = None) -> str:
    """Vega, Vega-Lite and vega-embed in one script. vl-convert builds it from the
    modules it ships, which takes seconds (3.6 s here, more than the rest of a report), so
    it is kept once per process and, with `cache_dir`, in a file named for vl-convert's
    version: a pipeline run reads it back instead of building it again."""
    import vl_convert

    cached = None if cache_dir is None else cache_dir / f"vega-{vl_convert.__version__}.js"
    if cached is not None and cached.exists():
        return cached.read_text()
    bundle = vl_convert.javascript_bundle()
    if cached is not None:
        ensure_dir(cache_dir)
        write_bytes_atomically(bundle.encode(), cached)
    return bundle


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("convtrack.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def _plain(value: Any) -> Any:
    """A value as the CSV and the page's data carry it: money as text with its cents."""
    if isinstance(value, Decimal):
        # Money with its cents; credited conversions with all their six decimals.
        return f"{value:.2f}" if value.as_tuple().exponent >= -2 else f"{value:f}"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element."""
    text = json.dumps(value, default=_plain, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class Formats:
    """How figures read on the page."""

    def __init__(self, currency: str) -> None:
        self.currency = currency

    def money(self, value: Any) -> str:
        return "" if value is None else f"{self.currency} {Decimal(value):,.2f}"

    @staticmethod
    def count(value: Any) -> str:
        return "" if value is None else f"{int(value):,}"

    @staticmethod
    def share(value: Any) -> str:
        """Credited conversions: shares of conversions, to the hundredth on the page."""
        return "" if value is None else f"{Decimal(value):,.2f}"

    @staticmethod
    def rate(value: Any) -> str:
        return "n/a" if value is None else f"{float(value):.1%}"

    def cell(self, value: Any, kind: str) -> str:
        if kind == "money":
            return self.money(value)
        if kind == "count":
            return self.count(value)
        if kind == "rate":
            return self.rate(value)
        if kind == "share":
            return self.share(value)
        return "" if value is None else str(value)


def change(current: float | Decimal | None, previous: float | Decimal | None) -> str:
    """The change from the previous period, in words a reader scans."""
    if current is None or previous is None:
        return "no previous figure"
    if previous == 0:
        return "no change" if current == 0 else "new (previous: 0)"
    ratio = float(current) / float(previous) - 1
    return "no change" if ratio == 0 else f"{ratio:+.1%}"


def headline(data: ReportData, fmt: Formats) -> list[dict[str, str]]:
    def figure(key: str, label: str, show, value) -> dict[str, str]:
        now, before = value(data.current), value(data.previous)
        return {
            "key": key,
            "label": label,
            "value": show(now),
            "previous": show(before),
            "change": change(now, before),
        }

    return [
        figure("clicks", "Human clicks", fmt.count, lambda t: t.clicks),
        figure("conversions", "Conversions", fmt.count, lambda t: t.conversions),
        figure("revenue", "Revenue (gross)", fmt.money, lambda t: t.revenue),
        figure("refunded", "Refunds", fmt.money, lambda t: t.refunded),
        figure("net_revenue", "Net revenue", fmt.money, lambda t: t.net_revenue),
        figure("rate", "Conversions per click", fmt.rate, Totals.conversion_rate.fget),
    ]


def _video(row: dict[str, Any]) -> str:
    return row.get("youtube_video_id") or charts.NO_VIDEO


def _chart_rows(
    rows: list[dict[str, Any]],
    *,
    labels: tuple[str, ...] = (),
    counts: tuple[str, ...] = (),
    amounts: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """A mart's rows as a chart reads them: the video, labels as text, counts as whole
    numbers, amounts as numbers (none is 0)."""
    return [
        {
            "video": _video(r),
            **{c: _plain(r[c]) for c in labels},
            **{c: int(r[c]) for c in counts},
            **{c: float(r[c] or 0) for c in amounts},
        }
        for r in rows
    ]


def chart_specs(data: ReportData, currency: str, window_days: int) -> dict[str, dict]:
    """Each chart's spec by its element id, only for charts with something to show."""
    specs: dict[str, dict] = {}
    if data.has_clicks:
        daily = _chart_rows(
            data.rows("daily"),
            labels=("metric_date",),
            counts=("clicks", "conversions"),
            amounts=("revenue",),
        )
        specs["chart-daily"] = charts.daily(daily, currency)
        stages = [
            {
                "video": _video(r),
                "link": f"{_video(r)} · {r['short_code']}",
                **{label: int(r[column]) for column, label in charts.FUNNEL_STAGES},
            }
            for r in data.rows("funnel")
        ]
        specs["chart-funnel-video"] = charts.funnel(stages, "video", "video")
        specs["chart-funnel-link"] = charts.funnel(stages, "link", "link")
    if any(r["conversions"] for r in data.rows("revenue_by_type")):
        by_type = _chart_rows(
            data.rows("revenue_by_type"),
            labels=("event_type",),
            counts=("conversions",),
            amounts=("revenue",),
        )
        specs["chart-revenue-type"] = charts.revenue_by_type(by_type, currency)
    if data.rows("days_to_convert"):
        days = _chart_rows(data.rows("days_to_convert"), counts=("days_since_click", "conversions"))
        specs["chart-days"] = charts.days_to_convert(days, window_days)
    if data.rows("ledger"):
        ledger = _chart_rows(
            data.rows("ledger"), labels=("reason",), counts=("conversions",), amounts=("revenue",)
        )
        specs["chart-ledger"] = charts.ledger(ledger, currency)
    return specs


def window_use(data: ReportData, window_days: int) -> dict[str, Any] | None:
    """How far into the window conversions come: the days by which half and nine in ten
    of the kept attributed conversions had come, and the latest."""
    counts = sorted(
        (int(r["days_since_click"]), int(r["conversions"])) for r in data.rows("days_to_convert")
    )
    total = sum(n for _, n in counts)
    if not total:
        return None

    def by_share(share: float) -> int:
        seen = 0
        for day, n in counts:
            seen += n
            if seen >= share * total:
                return day
        return counts[-1][0]

    return {
        "conversions": total,
        "median": by_share(0.5),
        "p90": by_share(0.9),
        "latest": counts[-1][0],
        "window": window_days,
    }


def _age(now: dt.datetime, then: dt.datetime) -> str:
    """How long ago `then` (naive UTC) was, in the unit a reader takes in at a glance."""
    minutes = max((now.replace(tzinfo=None) - then).total_seconds(), 0) / 60
    if minutes < 60:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 60 / 24:.1f} days"


def _csv_data(data: ReportData, table: str) -> dict[str, Any]:
    """A table's columns and rows as the page carries them for its CSV download."""
    rows = [{k: _plain(v) for k, v in row.items()} for row in data.rows(table)]
    return {"columns": data.columns(table), "rows": rows}


def render(
    data: ReportData,
    *,
    currency: str,
    reporting_timezone: str,
    window_days: int,
    generated_at: dt.datetime,
    cache_dir: Path | None = None,
) -> str:
    """The whole page; `cache_dir` keeps the Vega bundle between processes."""
    fmt = Formats(currency)
    meta = data.meta or {}
    built_at = meta.get("built_at")
    tables = {
        table_id: {
            "title": title,
            "columns": columns(data.columns(source)) if callable(columns) else columns,
            "rows": data.rows(source),
        }
        for table_id, (title, source, columns) in TABLES.items()
    }
    page_data = {
        "charts": chart_specs(data, currency, window_days),
        # Every column of each table's rows, for its CSV; the daily history's too.
        "tables": {
            table_id: _csv_data(data, source) for table_id, (_, source, _) in TABLES.items()
        },
        "daily": _csv_data(data, "daily"),
        "allVideos": charts.ALL_VIDEOS,
        "noVideo": charts.NO_VIDEO,
        "videoParam": charts.VIDEO_PARAM,
    }
    template = _environment().get_template("report.html.j2")
    return template.render(
        data=data,
        meta=meta,
        fmt=fmt,
        currency=currency,
        reporting_timezone=reporting_timezone,
        window_days=window_days,
        generated_at=generated_at,
        freshness=None if built_at is None else _age(generated_at, built_at),
        headline=headline(data, fmt),
        tables=tables,
        charts=page_data["charts"],
        window_use=window_use(data, window_days),
        page_data=_script_json(page_data),
        vega_bundle=vega_bundle(cache_dir),
        video_of=_video,
        all_videos=charts.ALL_VIDEOS,
    )
