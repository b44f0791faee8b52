"""The report (docs/report.md) opened from disk in a real Chromium, offline: it draws every
chart, shows the hand-computed figures, and its CSV downloads are the marts' rows."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route

from convtrack.core.settings import Settings
from convtrack.report import write_report
from tests.browser.conftest import TIMEOUT_MS
from tests.report_snapshot import AS_OF, LINKS, WINDOW, Story, snapshot_rows

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHARTS = "document.querySelectorAll('.chart')"


@dataclass
class Reader:
    """A tab with the report open from disk, and what it tried to do."""

    page: Page
    url: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def marks(self) -> dict[str, int]:
        """Each chart's drawn marks (SVG paths of its bars)."""
        return self.page.evaluate(
            f"Object.fromEntries([...{CHARTS}].map(c => "
            "[c.id, c.querySelectorAll('.mark-rect path').length]))"
        )

    def csv(self, name: str) -> list[dict[str, str]]:
        with self.page.expect_download() as download:
            self.page.click(f"button[data-csv='{name}']")
        with open(download.value.path(), newline="") as f:
            return list(csv.DictReader(f))


def open_report(browser: Browser, path: Path) -> Iterator[Reader]:
    context = browser.new_context(offline=True, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    reader = Reader(context.new_page(), path.as_uri())

    def block(route: Route) -> None:  # anything but the file itself goes nowhere
        reader.blocked.append(route.request.url)
        route.abort()

    context.route(lambda url: not url.startswith("file:"), block)
    reader.page.on("console", lambda m: m.type == "error" and reader.console_errors.append(m.text))
    reader.page.on("pageerror", lambda e: reader.page_errors.append(str(e)))
    reader.page.on("request", lambda r: reader.requests.append(r.url))
    reader.page.goto(reader.url)
    # Every chart container is drawn (or says why it could not be).
    reader.page.wait_for_function(f"[...{CHARTS}].every(c => c.dataset.rendered || c.textContent)")
    yield reader
    context.close()


@pytest.fixture(scope="module")
def report_file(built: Settings, tmp_path_factory) -> Path:
    return write_report(built, tmp_path_factory.mktemp("report-file") / "report.html")


@pytest.fixture
def reader(browser: Browser, report_file: Path) -> Iterator[Reader]:
    yield from open_report(browser, report_file)


def parsed(cell: str, like: object) -> object:
    """A CSV cell read back as the type of the snapshot's value `like`."""
    if cell == "" or like is None:
        return None if cell == "" else cell
    if isinstance(like, bool):
        return {"true": True, "false": False}[cell]
    if isinstance(like, dt.date):
        return dt.date.fromisoformat(cell)
    return type(like)(cell)  # str, int, float, Decimal


def video(row: dict) -> str:
    return LINKS[row["campaign_link_id"]][1]


def test_opens_offline_draws_every_chart_and_asks_for_nothing(
    reader: Reader, scenario: Story
) -> None:
    credited = scenario.credited()
    clicked = {c["tracking_id"]: c["clicked_at"] for c in scenario.clicks}
    # One bar per reporting day with a click (bots' too) or a credited conversion, in
    # each of the three daily panels.
    days = {c["clicked_at"].date() for c in scenario.clicks}
    days |= {c["converted_at"].date() for c in credited}
    stages, videos = 5, {v for _, v in LINKS.values()}
    expected = {
        "chart-daily": 3 * len(days),
        "chart-funnel-video": stages * len(videos),
        "chart-funnel-link": stages * len(LINKS),
        "chart-revenue-type": len({(video(c), c["event_type"]) for c in credited}),
        "chart-days": len({(c["converted_at"] - clicked[c["tracking_id"]]).days for c in credited}),
        "chart-ledger": len({r for r in scenario.verdict.values() if r is not None}),
    }

    assert reader.marks() == expected
    assert reader.requests == [reader.url]
    assert reader.blocked == []
    assert reader.console_errors == [] and reader.page_errors == []


def test_headline_figures_are_the_hand_sums(reader: Reader, scenario: Story) -> None:
    clicks, conversions, revenue = scenario.totals(AS_OF - dt.timedelta(days=WINDOW - 1), AS_OF)
    shown = {
        key: reader.page.inner_text(f"#headline-{key} .value")
        for key in ("clicks", "conversions", "revenue", "rate")
    }

    assert shown == {
        "clicks": f"{clicks:,}",
        "conversions": f"{conversions:,}",
        "revenue": f"USD {revenue:,.2f}",
        "rate": f"{conversions / clicks:.1%}",
    }
    assert reader.page.inner_text("#meta-as-of") == AS_OF.isoformat()


def test_csv_downloads_are_the_marts_rows(reader: Reader, built: Settings) -> None:
    links = snapshot_rows(built, "select * from mart_conversion_funnel")
    types = snapshot_rows(built, "select * from mart_revenue_by_type")
    daily = snapshot_rows(built, "select * from agg_daily_link_metrics")
    models = snapshot_rows(built, "select * from mart_model_comparison")

    def same(downloaded: list[dict], mart: list[dict]) -> None:
        columns = list(mart[0])
        assert len(downloaded) == len(mart)
        by_key = {tuple(str(row[c]) for c in columns[:3]): row for row in mart}
        for row in downloaded:
            want = by_key[tuple(row[c] for c in columns[:3])]
            assert {c: parsed(row[c], want[c]) for c in columns} == want

    same(reader.csv("links"), links)
    same(reader.csv("revenue_by_type"), types)
    same(reader.csv("daily"), daily)
    same(reader.csv("model_comparison"), models)
    assert reader.console_errors == [] and reader.page_errors == []


def test_picking_a_video_filters_charts_tables_and_downloads(
    reader: Reader, built: Settings
) -> None:
    reader.page.select_option("#video-picker", "vid-chair")
    reader.page.wait_for_function(
        "document.querySelectorAll('#chart-funnel-link .mark-rect path').length === 5"
    )

    visible = reader.page.locator("#table-links tbody tr:not(.hidden)")
    assert visible.count() == sum(1 for _, v in LINKS.values() if v == "vid-chair")
    downloaded = reader.csv("links")
    assert {row["youtube_video_id"] for row in downloaded} == {"vid-chair"}
    models = reader.page.locator("#table-model_comparison tbody tr:not(.hidden)")
    assert models.count() == 1
    assert {row["youtube_video_id"] for row in reader.csv("model_comparison")} == {"vid-chair"}


def test_a_heading_sorts_its_table(reader: Reader) -> None:
    headings = reader.page.locator("#table-links th").all_inner_texts()
    revenue = reader.page.locator("#table-links th").nth(headings.index("revenue"))

    def column() -> list[Decimal]:
        # The revenue column's cells (refunds and net are money too).
        nth = headings.index("revenue") + 1
        cells = reader.page.locator(f"#table-links tbody td:nth-child({nth})").all_inner_texts()
        return [Decimal(c.removeprefix("USD ").replace(",", "")) for c in cells]

    revenue.click()
    assert column() == sorted(column())
    revenue.click()
    assert column() == sorted(column(), reverse=True)


def test_an_empty_warehouse_gives_empty_states(
    browser: Browser, built_empty: Settings, tmp_path: Path
) -> None:
    path = write_report(built_empty, tmp_path / "empty.html")
    for reader in open_report(browser, path):
        assert reader.page.is_visible("#empty-no-data")
        assert reader.marks() == {}
        assert reader.page.inner_text("#headline-clicks .value") == "0"
        assert reader.requests == [reader.url] and reader.blocked == []
        assert reader.console_errors == [] and reader.page_errors == []
