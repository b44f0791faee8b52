"""The report's charts as Vega-Lite specs, built with Altair (docs/report.md#charts).

Every chart filters its rows by the `video` parameter, which the page's video picker
sets in every view at once; `ALL_VIDEOS` shows them all. Tooltips carry the values.
"""

from __future__ import annotations

from typing import Any

import altair as alt

from convtrack.core.raw_schema import EVENT_TYPES

VIDEO_PARAM = "video"
ALL_VIDEOS = "(all videos)"
NO_VIDEO = "(no video)"
WIDTH = "container"
# Counts are whole numbers: no 0.5 ticks.
COUNT_AXIS = alt.Axis(tickMinStep=1, format=",d")
FUNNEL_STAGES = [
    ("clicks", "human clicks"),
    ("converting_clicks", "converting clicks"),
    ("newsletter_signups", "newsletter signups"),
    ("course_enrollments", "course enrollments"),
    ("purchases", "purchases"),
]


def _base(rows: list[dict[str, Any]]) -> alt.Chart:
    """A chart of `rows` (each with a `video`) keeping those of the picked video."""
    test = f"{VIDEO_PARAM} == '{ALL_VIDEOS}' || datum.video == {VIDEO_PARAM}"
    return alt.Chart(alt.Data(values=rows)).transform_filter(test).properties(width=WIDTH)


def daily(rows: list[dict[str, Any]], currency: str) -> dict:
    """Human clicks, conversions and revenue per reporting day: one bar per day in each."""
    base = _base(rows)
    base = base.transform_aggregate(
        clicks="sum(clicks)",
        conversions="sum(conversions)",
        revenue="sum(revenue)",
        groupby=["metric_date"],
    )
    day = alt.X("metric_date:T", title=None, axis=alt.Axis(format="%b %d"))
    tooltip = [
        alt.Tooltip("metric_date:T", title="day", format="%Y-%m-%d"),
        alt.Tooltip("clicks:Q", title="human clicks", format=","),
        alt.Tooltip("conversions:Q", format=","),
        alt.Tooltip("revenue:Q", title=f"revenue ({currency})", format=",.2f"),
    ]
    panels = [
        ("clicks", "Human clicks", "#4c78a8", ",d"),
        ("conversions", "Conversions", "#f58518", ",d"),
        ("revenue", f"Revenue ({currency})", "#54a24b", ",.2f"),
    ]
    charts = [
        base.mark_bar(color=color)
        .encode(
            x=day,
            y=alt.Y(
                f"{field}:Q",
                title=title,
                axis=COUNT_AXIS if fmt == ",d" else alt.Axis(format=fmt),
            ),
            tooltip=tooltip,
        )
        .properties(height=110, name=f"daily_{field}")
        for field, title, color, fmt in panels
    ]
    return _spec(alt.vconcat(*charts))


def funnel(rows: list[dict[str, Any]], by: str, title: str) -> dict:
    """Human clicks -> converting clicks -> conversions by type, summed by `by`; each row
    carries the stages' counts under their labels (`FUNNEL_STAGES`)."""
    base = _base(rows)
    stages = [label for _, label in FUNNEL_STAGES]
    chart = (
        base.transform_fold(stages, as_=["stage", "count"])
        .mark_bar()
        .encode(
            y=alt.Y(f"{by}:N", title=title),
            yOffset=alt.YOffset("stage:N", sort=stages),
            x=alt.X("sum(count):Q", title="count", axis=COUNT_AXIS),
            color=alt.Color(
                "stage:N",
                sort=stages,
                legend=alt.Legend(orient="bottom", title=None),
            ),
            tooltip=[
                alt.Tooltip(f"{by}:N", title=title),
                alt.Tooltip("stage:N"),
                alt.Tooltip("sum(count):Q", title="count", format=","),
            ],
        )
    )
    return _spec(chart)


def revenue_by_type(rows: list[dict[str, Any]], currency: str) -> dict:
    """Revenue per video, stacked by conversion type."""
    base = _base(rows)
    chart = base.mark_bar().encode(
        y=alt.Y("video:N", title="video"),
        x=alt.X("sum(revenue):Q", title=f"revenue ({currency})", axis=alt.Axis(format=",.2f")),
        color=alt.Color(
            "event_type:N", sort=list(EVENT_TYPES), legend=alt.Legend(orient="bottom", title=None)
        ),
        tooltip=[
            alt.Tooltip("video:N"),
            alt.Tooltip("event_type:N", title="type"),
            alt.Tooltip("sum(conversions):Q", title="conversions", format=","),
            alt.Tooltip("sum(revenue):Q", title=f"revenue ({currency})", format=",.2f"),
        ],
    )
    return _spec(chart)


def days_to_convert(rows: list[dict[str, Any]], window_days: int) -> dict:
    """Conversions by whole days from click, over the whole attribution window."""
    base = _base(rows)
    chart = base.mark_bar().encode(
        x=alt.X(
            "days_since_click:O",
            title=f"days from click to conversion (window: {window_days} days)",
            scale=alt.Scale(domain=list(range(window_days + 1))),
        ),
        y=alt.Y("sum(conversions):Q", title="conversions", axis=COUNT_AXIS),
        tooltip=[
            alt.Tooltip("days_since_click:O", title="days after the click"),
            alt.Tooltip("sum(conversions):Q", title="conversions", format=","),
        ],
    )
    return _spec(chart.properties(height=160))


def ledger(rows: list[dict[str, Any]], currency: str) -> dict:
    """Conversions not credited, by reason."""
    base = _base(rows)
    chart = base.mark_bar(color="#e45756").encode(
        y=alt.Y("reason:N", title=None, sort="-x"),
        x=alt.X("sum(conversions):Q", title="conversions not credited", axis=COUNT_AXIS),
        tooltip=[
            alt.Tooltip("reason:N"),
            alt.Tooltip("sum(conversions):Q", title="conversions", format=","),
            alt.Tooltip("sum(revenue):Q", title=f"revenue ({currency})", format=",.2f"),
        ],
    )
    return _spec(chart)


def _spec(chart: alt.TopLevelMixin) -> dict:
    """The Vega-Lite spec, with the `video` parameter the page sets at its top level."""
    picked = alt.param(name=VIDEO_PARAM, value=ALL_VIDEOS)
    chart = chart.add_params(picked).configure_view(stroke=None)
    if isinstance(chart, alt.Chart):
        # As wide as the page; the height is the bands' (Vega-Lite would warn on "fit").
        chart = chart.properties(autosize=alt.AutoSizeParams(type="fit-x", contains="padding"))
    return chart.to_dict(validate=True)
