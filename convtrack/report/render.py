"""The report's one HTML file: figures, charts and tables, every script inlined
(docs/report.md). Nothing in the page loads anything: the Content-Security-Policy says
so to the browser too."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from convtrack.core.files import ensure_dir, write_bytes_atomically
from convtrack.report import charts
from convtrack.report.data import ReportData, Totals

# Tables the page shows and offers as CSV: id -> (title, the ReportData table, columns
# shown as (column, heading, kind)). The CSV holds every column of the table's rows.
TABLES: dict[str, tuple[str, str, list[tuple[str, str, str]]]] = {
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
            ("click_to_conversion_rate", "click → conversion", "rate"),
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
        ],
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
        return f"{value:.2f}"
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
    def rate(value: Any) -> str:
        return "n/a" if value is None else f"{float(value):.1%}"

    def cell(self, value: Any, kind: str) -> str:
        if kind == "money":
            return self.money(value)
        if kind == "count":
            return self.count(value)
        if kind == "rate":
            return self.rate(value)
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
        figure("revenue", "Revenue", fmt.money, lambda t: t.revenue),
        figure("rate", "Conversions per click", fmt.rate, Totals.conversion_rate.fget),
    ]


def _video(row: dict[str, Any]) -> str:
    return row.get("youtube_video_id") or charts.NO_VIDEO


def chart_specs(data: ReportData, currency: str, window_days: int) -> dict[str, dict]:
    """Each chart's spec by its element id, only for charts with something to show."""
    specs: dict[str, dict] = {}
    if data.has_clicks:
        rows = [
            {
                "metric_date": r["metric_date"].isoformat(),
                "video": _video(r),
                "clicks": int(r["clicks"]),
                "conversions": int(r["conversions"]),
                "revenue": float(r["revenue"] or 0),
            }
            for r in data.rows("daily")
        ]
        specs["chart-daily"] = charts.daily(rows, currency)
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
        rows = [
            {
                "video": _video(r),
                "event_type": r["event_type"],
                "conversions": int(r["conversions"]),
                "revenue": float(r["revenue"] or 0),
            }
            for r in data.rows("revenue_by_type")
        ]
        specs["chart-revenue-type"] = charts.revenue_by_type(rows, currency)
    if data.rows("days_to_convert"):
        rows = [
            {
                "video": _video(r),
                "days_since_click": int(r["days_since_click"]),
                "conversions": int(r["conversions"]),
            }
            for r in data.rows("days_to_convert")
        ]
        specs["chart-days"] = charts.days_to_convert(rows, window_days)
    if data.rows("ledger"):
        rows = [
            {
                "video": _video(r),
                "reason": r["reason"],
                "conversions": int(r["conversions"]),
                "revenue": float(r["revenue"] or 0),
            }
            for r in data.rows("ledger")
        ]
        specs["chart-ledger"] = charts.ledger(rows, currency)
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
    freshness = None
    if built_at is not None:
        age = generated_at.replace(tzinfo=None) - built_at
        minutes = max(age.total_seconds(), 0) / 60
        if minutes < 60:
            freshness = f"{minutes:.0f} min"
        elif minutes < 48 * 60:
            freshness = f"{minutes / 60:.1f} h"
        else:
            freshness = f"{minutes / 60 / 24:.1f} days"
    tables = {
        table_id: {
            "title": title,
            "columns": columns,
            "rows": data.rows(source),
            "csv_columns": data.tables.get(source, ([], []))[0],
        }
        for table_id, (title, source, columns) in TABLES.items()
    }
    page_data = {
        "charts": chart_specs(data, currency, window_days),
        "tables": {
            table_id: {
                "columns": t["csv_columns"],
                "rows": [{k: _plain(v) for k, v in row.items()} for row in t["rows"]],
            }
            for table_id, t in tables.items()
        },
        "daily": {
            "columns": data.tables.get("daily", ([], []))[0],
            "rows": [{k: _plain(v) for k, v in r.items()} for r in data.rows("daily")],
        },
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
        freshness=freshness,
        headline=headline(data, fmt),
        tables=tables,
        charts=page_data["charts"],
        window_use=window_use(data, window_days),
        page_data=_script_json(page_data),
        vega_bundle=vega_bundle(cache_dir),
        video_of=_video,
        all_videos=charts.ALL_VIDEOS,
    )
