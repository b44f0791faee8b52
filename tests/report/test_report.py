"""The report's figures and file, from a snapshot the real pipeline built from raw rows
labelled by hand (tests/report_snapshot.py); what a browser does with it is in
tests/browser/test_report.py."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import markupsafe
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from collector.validation.rules import (
    MAX_CAMPAIGN_NAME_CHARS,
    MAX_PLACEMENT_CHARS,
    MAX_VIDEO_ID_CHARS,
)
from convtrack.core.settings import Settings
from convtrack.report import ReportOptionError, SnapshotMissing, write_report
from convtrack.report.data import Period, load
from tests.report_snapshot import AS_OF, DESK, LINKS, WINDOW, Story, snapshot_rows

pytestmark = pytest.mark.slow

CURRENT = Period(AS_OF - dt.timedelta(days=WINDOW - 1), AS_OF)


def test_headline_figures_are_the_hand_sums_against_the_previous_period(
    built: Settings, scenario: Story
) -> None:
    data = load(built.published_path, default_days=WINDOW)

    assert data.period == CURRENT
    now, before = data.current, data.previous
    previous = CURRENT.previous()
    assert (now.clicks, now.conversions, now.revenue) == scenario.totals(CURRENT.start, CURRENT.end)
    assert (before.clicks, before.conversions, before.revenue) == scenario.totals(
        previous.start, previous.end
    )
    # The story was written so both periods have something to compare.
    assert now.clicks and before.clicks and now.conversions and before.conversions


def test_net_revenue_is_the_hand_sums_against_the_previous_period(
    built: Settings, scenario: Story
) -> None:
    """Refunds are charged to their purchase's day (the accrual view): the previous
    period's purchase refunded in this one lowers the previous period's net revenue."""
    data = load(built.published_path, default_days=WINDOW)
    previous = CURRENT.previous()

    now, before = data.current, data.previous
    assert now.refunded == scenario.refunded_between(CURRENT.start, CURRENT.end)
    assert before.refunded == scenario.refunded_between(previous.start, previous.end)
    assert now.net_revenue == scenario.totals(CURRENT.start, CURRENT.end)[2] - now.refunded
    assert before.net_revenue == scenario.totals(previous.start, previous.end)[2] - before.refunded
    # The story refunds purchases of both periods.
    assert now.refunded and before.refunded
    page = write_report(built, built.data_dir / "net.html").read_text()
    for key, value in (("refunded", now.refunded), ("net_revenue", now.net_revenue)):
        card = re.search(rf'id="headline-{key}">.*?class="value">([^<]*)<', page, re.DOTALL)
        assert card is not None and card.group(1) == f"USD {value:,.2f}"


def test_links_and_videos_show_gross_refunds_and_net(built: Settings, scenario: Story) -> None:
    data = load(built.published_path, default_days=WINDOW)

    for row in data.rows("funnel"):
        refunded = scenario.refunded(link=row["campaign_link_id"])
        assert row["refunded_revenue"] == refunded, row["short_code"]
        assert row["net_revenue"] == row["revenue"] - refunded
    videos = {r["youtube_video_id"]: r for r in data.rows("videos")}
    assert set(videos) == {video for _, video in LINKS.values()}
    for video, row in videos.items():
        credited = [c for c in scenario.credited() if LINKS[c["campaign_link_id"]][1] == video]
        gross = sum((c["revenue_amount"] or Decimal(0) for c in credited), Decimal("0.00"))
        refunded = scenario.refunded(video=video)
        assert (row["revenue"], row["refunded_revenue"], row["net_revenue"]) == (
            gross,
            refunded,
            gross - refunded,
        ), video
        assert row["refund_rate"] == pytest.approx(float(refunded / gross))
    assert all(row["refunded_revenue"] for row in videos.values())
    # The links table and its CSV carry them, as the snapshot holds them.
    page = write_report(built, built.data_dir / "links.html").read_text()
    found = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page)
    assert found is not None
    tables = json.loads(found.group(1))["tables"]
    csv = {r["campaign_link_id"]: r for r in tables["links"]["rows"]}
    for row in data.rows("funnel"):
        shown = csv[row["campaign_link_id"]]
        assert (shown["revenue"], shown["refunded_revenue"], shown["net_revenue"]) == (
            f"{row['revenue']:.2f}",
            f"{row['refunded_revenue']:.2f}",
            f"{row['net_revenue']:.2f}",
        )
    assert {r["youtube_video_id"] for r in tables["videos"]["rows"]} == set(videos)
    assert 'id="table-videos"' in page and "refund rate" in page


def test_the_refund_ledger_counts_every_uncredited_refund_by_its_reason(
    built: Settings, scenario: Story
) -> None:
    data = load(built.published_path, default_days=WINDOW)

    shown: dict[str, tuple[int, Decimal]] = {}
    for row in data.rows("refund_ledger"):
        n, amount = shown.get(row["reason"], (0, Decimal(0)))
        shown[row["reason"]] = (n + row["refunds"], amount + row["uncredited_amount"])
    by_hand: dict[str, tuple[int, Decimal]] = {}
    for refund in scenario.refunds:
        _, credited, reason = scenario.refund_verdict[refund["event_id"]]
        if reason is not None:
            n, amount = by_hand.get(reason, (0, Decimal(0)))
            by_hand[reason] = (n + 1, amount + refund["amount"] - credited)
    assert shown == by_hand
    assert set(by_hand) == {"exceeds_order_revenue", "order_not_credited"}
    # The video filter keeps the refunds of that video's orders.
    desk = load(built.published_path, video="vid-desk", default_days=WINDOW)
    assert [(r["reason"], r["uncredited_amount"]) for r in desk.rows("refund_ledger")] == [
        ("exceeds_order_revenue", Decimal("10.01"))
    ]
    page = write_report(built, built.data_dir / "ledger.html").read_text()
    assert 'id="table-refund_ledger"' in page and 'href="#section-refund_ledger"' in page


def test_a_period_and_a_video_narrow_the_headline(built: Settings, scenario: Story) -> None:
    period = Period(AS_OF - dt.timedelta(days=9), AS_OF)
    data = load(
        built.published_path, start=period.start, end=period.end, video="vid-desk", default_days=7
    )

    assert data.period == period
    now = data.current
    assert (now.clicks, now.conversions, now.revenue) == scenario.totals(
        period.start, period.end, "vid-desk"
    )
    assert {r["youtube_video_id"] for r in data.rows("funnel")} == {"vid-desk"}


def test_tables_are_the_marts_rows(built: Settings) -> None:
    data = load(built.published_path, default_days=WINDOW)

    assert data.rows("funnel") == snapshot_rows(
        built, "select * from mart_conversion_funnel order by youtube_video_id, short_code"
    )
    mart_rows = snapshot_rows(built, "select * from mart_revenue_by_type")
    shown = [{k: r[k] for k in mart_rows[0]} for r in data.rows("revenue_by_type")]
    assert sorted(shown, key=str) == sorted(mart_rows, key=str)
    daily = snapshot_rows(built, "select count(*) as n from agg_daily_link_metrics")[0]["n"]
    assert len(data.rows("daily")) == daily


MODELS = ("last_click", "first_click", "linear", "position_based", "time_decay")


def test_the_model_comparison_is_the_hand_split_per_video(built: Settings, scenario: Story) -> None:
    rows = {
        r["youtube_video_id"]: r
        for r in load(built.published_path, default_days=WINDOW).rows("model_comparison")
    }

    assert set(rows) == {video for _, video in LINKS.values()}
    for video, row in rows.items():
        revenue = {model: scenario.model_revenue(model, video) for model in MODELS}
        assert {model: row[f"{model}_revenue"] for model in MODELS} == revenue, video
        spread = max(revenue.values()) - min(revenue.values())
        assert row["revenue_spread"] == spread
        assert row["revenue_spread_vs_last_click"] == pytest.approx(
            float(spread / revenue["last_click"])
        )
        # Under last_click each credited conversion counts whole for its own link.
        own = [c for c in scenario.credited() if LINKS[c["campaign_link_id"]][1] == video]
        assert row["last_click_conversions"] == len(own)
    # The paths cross both videos: the models disagree on each, and every model hands
    # out all the revenue there is.
    assert all(row["revenue_spread"] > 0 for row in rows.values())
    for model in MODELS:
        assert sum(row[f"{model}_revenue"] for row in rows.values()) == scenario.model_revenue(
            model
        )
    # The video picker's filter.
    chair = load(built.published_path, video="vid-chair", default_days=WINDOW)
    assert chair.rows("model_comparison") == [rows["vid-chair"]]


def test_the_model_comparison_table_and_its_csv(built: Settings, tmp_path) -> None:
    page = write_report(built, tmp_path / "r.html").read_text()

    assert 'id="table-model_comparison"' in page
    assert "last click revenue" in page and "time decay conversions" in page
    found = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page)
    assert found is not None
    csv = json.loads(found.group(1))["tables"]["model_comparison"]
    mart = snapshot_rows(built, "select * from mart_model_comparison")
    assert csv["columns"] == list(mart[0])
    # As the snapshot holds them: money with its cents, conversions with six decimals.
    as_text = [{k: f"{v:f}" if isinstance(v, Decimal) else v for k, v in r.items()} for r in mart]
    assert sorted(csv["rows"], key=str) == sorted(as_text, key=str)
    assert all(len(r["linear_conversions"].split(".")[1]) == 6 for r in csv["rows"])
    assert all(len(r["linear_revenue"].split(".")[1]) == 2 for r in csv["rows"])


def test_ledger_counts_every_uncredited_conversion_by_its_reason(
    built: Settings, scenario: Story
) -> None:
    data = load(built.published_path, default_days=WINDOW)

    reasons: dict[str, int] = {}
    for row in data.rows("ledger"):
        reasons[row["reason"]] = reasons.get(row["reason"], 0) + row["conversions"]
    by_hand: dict[str, int] = {}
    for reason in scenario.verdict.values():
        if reason is not None:
            by_hand[reason] = by_hand.get(reason, 0) + 1
    assert reasons == by_hand


def test_the_file_loads_nothing_and_names_the_snapshot(built: Settings, tmp_path) -> None:
    path = write_report(built, tmp_path / "r.html")
    html = path.read_text()
    (run_id,) = snapshot_rows(built, "select run_id from _meta")[0].values()

    assert f'as of <strong id="meta-as-of">{AS_OF}</strong>' in html
    assert run_id in html
    # No element that fetches (the browser test watches the network itself): no script
    # from elsewhere, and outside the scripts no src=, no <link>, no url(...) in styles.
    assert not re.search(r"<script[^>]*\ssrc=", html)
    markup = re.sub(r"<script[^>]*>.*?</script>", "", html, flags=re.DOTALL)
    assert not re.search(r"\ssrc=|<link|url\(", markup)
    assert "default-src 'none'" in html


# What a link's free text may hold (the collector bounds its length only): markup, the
# ends of a script or a comment, quotes, JavaScript's line separators, NUL.
MARKUP = st.sampled_from([
    "</script>", "</SCRIPT ", "<script>alert(1)</script>", "<!--", "-->", "<![CDATA[", "]]>",
    '<img src=x onerror="alert(1)">', '"', "'", "`${1}`", "&amp;", "&lt;", "\\", "\u2028",
    "\u2029", "\x00", "=cmd|' /C calc'!A0", "\r\n",
])  # fmt: skip


def link_text(max_chars: int) -> st.SearchStrategy[str]:
    pieces = st.one_of(MARKUP, st.text(st.characters(exclude_categories=["Cs"]), max_size=12))
    return st.lists(pieces, max_size=8).map(lambda p: "".join(p)[:max_chars])


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    name=link_text(MAX_CAMPAIGN_NAME_CHARS),
    video=link_text(MAX_VIDEO_ID_CHARS).filter(bool),
    placement=link_text(MAX_PLACEMENT_CHARS),
)
@example(name="</script><script>alert(1)</script>", video="<!--", placement="\u2028")
def test_any_text_of_a_link_is_shown_as_text_never_as_markup(
    built: Settings, tmp_path, name: str, video: str, placement: str
) -> None:
    # The snapshot with one link's free text replaced, as a link created with it would be.
    data_dir = tmp_path / "data"
    hostile = Settings(data_dir=data_dir)
    hostile.published_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(built.published_path, hostile.published_path)
    with duckdb.connect(str(hostile.published_path)) as con:
        for table in ("dim_campaign_links", "mart_conversion_funnel"):
            con.execute(
                f"update {table} set campaign_name = ?, youtube_video_id = ?, placement = ? "
                "where campaign_link_id = ?",
                [name, video, placement, DESK],
            )
    # As bytes: reading as text would turn a "\r" of the name into "\n".
    clean = write_report(built, tmp_path / "clean.html").read_bytes().decode()
    page = write_report(hostile, tmp_path / "hostile.html").read_bytes().decode()

    # No element the text could have opened or closed: the same scripts, comments and
    # tags as a report of plain names.
    def structure(text: str) -> tuple:
        lowered = text.lower()
        return tuple(lowered.count(t) for t in ("<script", "</script", "<!--", "<img", "<tr"))

    assert structure(page) == structure(clean)
    # The page's data parses back to the very text, and the table shows it escaped.
    found = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page)
    assert found is not None
    rows = json.loads(found.group(1))["tables"]["links"]["rows"]
    shown = [r for r in rows if r["campaign_link_id"] == DESK]
    assert [(r["campaign_name"], r["youtube_video_id"], r["placement"]) for r in shown] == [
        (name, video, placement)
    ]
    assert str(markupsafe.escape(name)) in page


def test_an_empty_warehouse_gives_empty_states(built_empty: Settings, tmp_path) -> None:
    html = write_report(built_empty, tmp_path / "empty.html").read_text()

    assert 'id="empty-no-data"' in html
    assert "No data yet" in html
    assert 'id="chart-' not in html  # nothing to draw, nothing drawn


def test_an_unknown_video_is_refused_naming_the_option(built: Settings, tmp_path) -> None:
    with pytest.raises(ReportOptionError) as refused:
        write_report(built, tmp_path / "r.html", video="no-such-video")
    assert refused.value.option == "--video"
    assert "vid-chair, vid-desk" in str(refused.value)
    assert not (tmp_path / "r.html").exists()


def test_no_snapshot_says_how_to_make_one(tmp_path) -> None:
    with pytest.raises(SnapshotMissing, match="convtrack pipeline run"):
        write_report(Settings(data_dir=tmp_path / "data"), tmp_path / "r.html")


def test_the_command_writes_the_report_and_refuses_an_unknown_video(
    built: Settings, tmp_path, monkeypatch
) -> None:
    from typer.testing import CliRunner

    from convtrack.cli import app

    monkeypatch.setenv("CONVTRACK_DATA_DIR", str(built.data_dir))
    out = tmp_path / "desk.html"
    done = CliRunner().invoke(app, ["report", "--out", str(out), "--video", "vid-desk"])
    refused = CliRunner().invoke(app, ["report", "--out", str(out), "--video", "vid-nope"])

    assert done.exit_code == 0, done.output
    assert done.output.strip() == str(out)
    assert "video vid-desk" in out.read_text()
    assert refused.exit_code == 2
    assert "--video" in refused.output and "vid-nope" in refused.output


# Any text a shell can pass: NULs, lone surrogates (undecodable bytes), other digits,
# long; days around the bounds; the links' own videos.
ANY_TEXT = st.text(max_size=300)
DAYS = st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)).map(dt.date.isoformat)
OPTIONS = ("--from", "--to", "--video", "--out")


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    start=st.one_of(st.none(), DAYS, ANY_TEXT),
    end=st.one_of(st.none(), DAYS, ANY_TEXT),
    video=st.one_of(st.none(), st.sampled_from(sorted({v for _, v in LINKS.values()})), ANY_TEXT),
    out=st.one_of(st.none(), ANY_TEXT.filter(lambda t: ".." not in t)),
)
@example(start=None, end=None, video=None, out="\udc80.html")  # a name of Latin-1 bytes
@example(start=None, end=None, video=None, out="x" * 300)  # longer than a name may be
@example(start="2026-03-02", end="2026-03-01", video=None, out=None)
def test_any_options_of_the_command_write_a_report_or_are_refused_by_name(
    built: Settings, tmp_path, start, end, video, out
) -> None:
    from typer.testing import CliRunner

    from convtrack.cli import app

    # option=value: a value that looks like an option ("--help") is still the value.
    path = tmp_path / "out" / (out if out is not None else "r.html")
    args = ["report", f"--out={path}"]
    for option, value in (("--from", start), ("--to", end), ("--video", video)):
        if value is not None:
            args.append(f"{option}={value}")
    env = {"CONVTRACK_DATA_DIR": str(built.data_dir), "COLUMNS": "200"}
    result = CliRunner().invoke(app, args, env=env)

    # Written (its path printed), or refused naming an option: never a traceback.
    assert result.exit_code in (0, 2), (args, result.output, result.exception)
    if result.exit_code == 0:
        assert (
            Path(os.fsdecode(result.stdout_bytes.strip()))
            .read_bytes()
            .startswith(b"<!doctype html>")
        )
    else:
        assert any(option in result.output for option in OPTIONS), result.output


def test_a_pipeline_run_writes_the_report(built: Settings) -> None:
    """The Dagster asset `report`, downstream of the snapshot, ran in the fixture's run."""
    from convtrack.report import report_path

    (meta,) = snapshot_rows(built, "select as_of, run_id from _meta")
    html = report_path(built).read_text()

    assert f'<strong id="meta-as-of">{meta["as_of"]}</strong>' in html
    assert meta["run_id"] in html


def test_the_vega_bundle_is_kept_for_the_next_process(tmp_path) -> None:
    from convtrack.report.render import vega_bundle

    vega_bundle.cache_clear()
    built_now = vega_bundle(tmp_path)
    (kept,) = tmp_path.glob("vega-*.js")
    kept.write_text(built_now + "// read back")
    vega_bundle.cache_clear()  # as a new process would start

    assert "window.vegaEmbed" in built_now
    assert vega_bundle(tmp_path) == built_now + "// read back"
    vega_bundle.cache_clear()


def test_a_prune_loses_no_day_of_the_daily_history(tmp_path, scenario: Story, monkeypatch) -> None:
    """Retention removes the clicks before its horizon; the report's days and headline
    figures stay, since they come from the daily history (docs/rules.md#retention)."""
    from dagster import DagsterInstance

    from orchestration.run import run_prune
    from tests.report_snapshot import build

    settings = build(tmp_path / "data", scenario, monkeypatch)
    before = load(settings.published_path, default_days=WINDOW)
    pruned = run_prune(settings, AS_OF, instance=DagsterInstance.ephemeral(), log_level="WARNING")
    after = load(settings.published_path, default_days=WINDOW)

    assert pruned.success
    old_clicks = [c for c in scenario.clicks if c["clicked_at"].date() < pruned.cutoff]
    assert old_clicks  # the story has clicks retention removes
    assert not any(
        r["tracking_id"] in {c["tracking_id"] for c in old_clicks}
        for r in snapshot_rows(settings, "select tracking_id from mart_attribution")
    )
    days = {r["metric_date"] for r in after.rows("daily")}
    assert {c["clicked_at"].date() for c in old_clicks} <= days
    assert after.rows("daily") == before.rows("daily")
    assert (after.current, after.previous) == (before.current, before.previous)
    assert after.rows("model_comparison") == before.rows("model_comparison")
    # Refunds of purchases whose click retention removed still count where they did.
    for table in ("videos", "refund_ledger", "daily_refunds"):
        assert after.rows(table) == before.rows(table), table
    assert [(r["refunded_revenue"], r["net_revenue"]) for r in after.rows("funnel")] == [
        (r["refunded_revenue"], r["net_revenue"]) for r in before.rows("funnel")
    ]
    assert after.meta["retained_since"] == pruned.cutoff
    # The prune job rewrote the report after republishing.
    from convtrack.report import report_path

    assert f"row-level data kept since {pruned.cutoff}" in report_path(settings).read_text()
