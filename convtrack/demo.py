"""`convtrack demo`: the whole path on this machine, through the real HTTP endpoints.

Starts the collector on a free loopback port, registers links for a handful of videos,
imports about 60 days of history through the admin import API, sends today's traffic
through the real redirect and conversion endpoints (bots, retries, bad payloads and
all; viewers who came through several videos' links), refunds some purchases through the
merchant's refund endpoints, runs the Dagster pipeline, prunes past retention, sends one
refund of a purchase whose click the prune removed and runs the pipeline again; prints
the funnel and revenue per video, gross, refunded and net revenue per video, and each
attribution model's revenue per video side by side, and ends with the path of the HTML
report the pipeline wrote.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import duckdb
import httpx
from rich.console import Console
from rich.table import Table

from convtrack.collector_process import free_port, running_collector
from convtrack.core.settings import Settings
from convtrack.report import report_path
from convtrack.traffic import (
    BOT_AGENTS,
    HUMAN_AGENTS,
    MULTI_TOUCH_SHARE,
    RefundPlan,
    Story,
    build_story,
    plan_refunds,
)

DEMO_MARKER = ".convtrack-demo"
IMPORT_CHUNK = 100  # events per admin import request: keeps each body small
# Wide enough for the results table even when the output is not a terminal.
console = Console(width=max(Console().width, 132))


def prepare_data_dir(data_dir: Path) -> None:
    """Start the demo from nothing, but never wipe a data dir the demo did not make."""
    marker = data_dir / DEMO_MARKER
    if data_dir.exists() and any(data_dir.iterdir()) and not marker.exists():
        raise SystemExit(
            f"{data_dir} holds data that the demo did not make; set CONVTRACK_DATA_DIR "
            "to another directory for the demo, or move it away"
        )
    for sub in ("raw", "warehouse", "spark", "reports"):
        shutil.rmtree(data_dir / sub, ignore_errors=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text("made by `convtrack demo`; the demo wipes raw/, warehouse/ and spark/ here\n")


def create_links(client: httpx.Client, story: Story) -> dict[str, str]:
    ids = {}
    for link in story.links:
        resp = client.post(
            "/api/campaign-links",
            json={
                "short_code": link.short_code,
                "destination_url": link.destination_url,
                "campaign_name": link.campaign_name,
                "youtube_video_id": link.youtube_video_id,
                "placement": link.placement,
            },
        )
        resp.raise_for_status()
        ids[link.short_code] = resp.json()["campaign_link_id"]
    return ids


def import_history(client: httpx.Client, story: Story, link_ids: dict[str, str]) -> Counter:
    """History goes through POST /api/admin/import, in small chunks."""
    tally: Counter = Counter()
    for stream, events in (("clicks", story.clicks), ("conversions", story.conversions)):
        rows = []
        for e in events:
            row = {k: v for k, v in e.items() if k != "short_code"}
            row["campaign_link_id"] = link_ids[e["short_code"]]
            if "touches" in e:
                row["touches"] = [
                    {"tracking_id": t["tracking_id"], "campaign_link_id": link_ids[t["short_code"]]}
                    for t in e["touches"]
                ]
            rows.append(row)
        with console.status(f"importing {len(rows)} historical {stream}") as status:
            for i in range(0, len(rows), IMPORT_CHUNK):
                resp = client.post("/api/admin/import", json={stream: rows[i : i + IMPORT_CHUNK]})
                resp.raise_for_status()
                for result in resp.json()["results"][stream]:
                    tally[f"{stream}:{result['status']}"] += 1
                status.update(f"importing {stream}: {min(i + IMPORT_CHUNK, len(rows))}/{len(rows)}")
    return tally


def live_traffic(client: httpx.Client, story: Story, link_ids: dict[str, str]) -> Counter:
    """Today's visitors: real redirects, then the tracker's POSTs, with retries and junk."""
    import random

    rng = random.Random(11)
    # Whether a human came through another video's link earlier today (the tracker then
    # sends both touches): drawn from its own generator, so the rest stays as it was.
    earlier_rng = random.Random(12)
    tally: Counter = Counter()
    for i in range(300):
        link = rng.choice(story.links)
        agent = rng.choice(BOT_AGENTS) if i % 12 == 0 else rng.choice(HUMAN_AGENTS)
        touches = []
        if agent in HUMAN_AGENTS and earlier_rng.random() < MULTI_TOUCH_SHARE:
            other = earlier_rng.choice(
                [x for x in story.links if x.youtube_video_id != link.youtube_video_id]
            )
            touch = _redirect(client, other.short_code, agent, tally)
            touches = [touch] if touch else []
        touch = _redirect(client, link.short_code, agent, tally)
        if touch is None:
            continue
        if agent in BOT_AGENTS or rng.random() > 0.15:
            continue
        event_type = rng.choice(["newsletter_signup", "course_enrollment", "purchase"])
        body = {
            "event_id": str(uuid.uuid4()),
            **touch,
            "event_type": event_type,
            "event_data": {"page": "/thanks"},
        }
        if touches:
            body["touches"] = [*touches, touch]  # as the tracker sends them
            tally["conversion with 2 touches"] += 1
        if event_type != "newsletter_signup":
            body["revenue_amount"] = rng.choice(["19.00", "49.00", "99.00"])
        if event_type == "purchase":
            body["order_id"] = f"live-{i}"
        for _ in range(2 if rng.random() < 0.2 else 1):  # the tracker retried
            tally[f"conversion:{client.post('/api/conversions', json=body).status_code}"] += 1
    a_link = next(iter(link_ids.values()))
    bad_payloads = [
        {"tracking_id": "not-a-uuid", "campaign_link_id": a_link, "event_type": "purchase"},
        {"tracking_id": str(uuid.uuid4()), "campaign_link_id": a_link, "event_type": "refund"},
        {
            "tracking_id": str(uuid.uuid4()),
            "campaign_link_id": a_link,
            "event_type": "purchase",
            "revenue_amount": "19.999",
        },
        {"tracking_id": str(uuid.uuid4()), "campaign_link_id": a_link, "event_type": "purchase"},
        {
            "tracking_id": str(uuid.uuid4()),
            "campaign_link_id": str(uuid.uuid4()),
            "event_type": "newsletter_signup",
        },
    ]
    for body in bad_payloads:
        resp = client.post("/api/conversions", json=body)
        tally[f"bad payload:{resp.status_code}"] += 1
    return tally


def send_refunds(client: httpx.Client, refunds: list[dict]) -> Counter:
    """The merchant's back office, with the refund token: the first refund alone through
    POST /api/refunds (and its retry), the rest through the batch form."""
    tally: Counter = Counter()
    single, rest = refunds[:2], refunds[2:]
    for body in single:
        tally[f"refund:{client.post('/api/refunds', json=body).status_code}"] += 1
    if rest:
        resp = client.post("/api/refunds/batch", json={"events": rest})
        resp.raise_for_status()
        for result in resp.json()["results"]:
            tally[f"refund (batch):{result['status']}"] += 1
    return tally


def _redirect(client: httpx.Client, short_code: str, agent: str, tally: Counter) -> dict | None:
    """A click through the real redirect; the touch it made, or None when refused."""
    resp = client.get(f"/c/{short_code}", headers={"User-Agent": agent})
    tally[f"redirect:{resp.status_code}"] += 1
    if resp.status_code != 302:
        return None
    params = parse_qs(urlparse(resp.headers["location"]).query)
    return {
        "tracking_id": params["ct_tracking_id"][0],
        "campaign_link_id": params["ct_campaign_link_id"][0],
    }


def print_results(settings: Settings) -> None:
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        rows = con.execute(
            """
            select
                campaign_name,
                youtube_video_id,
                sum(clicks),
                sum(bot_clicks),
                sum(converting_clicks),
                sum(newsletter_signups),
                sum(course_enrollments),
                sum(purchases),
                sum(revenue),
                sum(converting_clicks) / nullif(sum(clicks), 0)
            from mart_conversion_funnel
            group by all
            order by sum(revenue) desc
            """
        ).fetchall()
        ledger = con.execute(
            "select reason, count(*) from fct_unattributed_conversions group by 1 order by 2 desc"
        ).fetchall()
        result = con.execute("select * from _meta")
        meta = dict(zip([d[0] for d in result.description], result.fetchone(), strict=True))
        as_of, retained_since = meta["as_of"], meta.get("retained_since")
    table = Table(title=f"Funnel and revenue per video, as of {as_of}")
    for col in (
        "video",
        "id",
        "clicks",
        "bots",
        "converting",
        "signups",
        "enrolments",
        "purchases",
        "revenue",
        "conv. rate",
    ):
        table.add_column(col, justify="left" if col in ("video", "id") else "right")
    for title, vid, clicks, bots, conv, news, enr, buy, rev, rate in rows:
        table.add_row(
            title,
            vid,
            str(clicks),
            str(bots),
            str(conv),
            str(news),
            str(enr),
            str(buy),
            f"{settings.currency} {rev:,.2f}",
            f"{(rate or 0):.1%}",
        )
    console.print(table)
    # The ledger is row-level: after a prune it covers the conversions retention keeps.
    kept = f" (of the conversions kept since {retained_since})" if retained_since else ""
    console.print(
        f"Not credited{kept}: " + (", ".join(f"{reason} {n}" for reason, n in ledger) or "none")
    )
    print_model_comparison(settings)


def print_model_comparison(settings: Settings) -> None:
    """Each attribution model's revenue per video, side by side, and the spread between
    them (docs/rules.md#attribution-models): where credit is a modelling choice, not a
    fact. The rows of mart_model_comparison in the published snapshot, as the mart has
    them: one `<model>_revenue` column per model, in the mart's order."""
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        models = [
            name.removesuffix("_revenue")
            for (name,) in con.execute(
                "select column_name from information_schema.columns "
                "where table_name = 'mart_model_comparison' and column_name like '%_revenue' "
                "order by ordinal_position"
            ).fetchall()
        ]
        revenues = ", ".join(f"m.{model}_revenue" for model in models)
        rows = con.execute(
            f"""
            select coalesce(t.title, ''), m.youtube_video_id, {revenues}, m.revenue_spread
            from mart_model_comparison as m
            left join (
                select youtube_video_id, string_agg(distinct campaign_name, ', ') as title
                from dim_campaign_links
                group by youtube_video_id
            ) as t
                on m.youtube_video_id is not distinct from t.youtube_video_id
            order by greatest({revenues}) desc
            """
        ).fetchall()
    table = Table(title="Revenue per video under each attribution model")
    table.add_column("video")
    table.add_column("id")
    for col in [*models, "spread"]:
        table.add_column(col.replace("_", " "), justify="right")
    for title, video, *amounts in rows:
        table.add_row(title, video, *(f"{amount:,.2f}" for amount in amounts))
    console.print(table)
    console.print(
        f"Amounts in {settings.currency}. Each model shares every credited conversion among "
        "the touches that led to it; spread = highest - lowest."
    )


def run_demo(settings: Settings) -> int:
    """Run the demo in `settings.data_dir`; the exit code (1 when the pipeline run failed)."""
    data_dir = settings.data_dir.resolve()
    prepare_data_dir(data_dir)
    port = free_port()
    admin, reader = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    refunder = secrets.token_urlsafe(16)
    env = {
        **os.environ,
        "CONVTRACK_DATA_DIR": str(data_dir),
        "CONVTRACK_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "CONVTRACK_ADMIN_TOKEN": admin,
        "CONVTRACK_READ_TOKEN": reader,
        # The merchant's back office sends refunds with its own token (docs/api.md#refunds).
        "CONVTRACK_REFUND_TOKEN": refunder,
        # One machine plays every visitor here, from one IP: no per-IP limit.
        "CONVTRACK_RATE_LIMIT_PER_IP": "0",
    }
    today = dt.datetime.now(dt.UTC).date()
    story = build_story(today)
    from orchestration.retention import retention_cutoff

    refunds = plan_refunds(story, today, retention_cutoff(today, settings.retention_days))
    started = time.monotonic()
    console.rule("convtrack demo")
    # One worker: the admin flush before the pipeline turns the log of the worker that
    # answers it into Parquet, and that must be every event (docs/api.md#admin-endpoints).
    with running_collector(env, port, data_dir / "collector.log", workers=1) as base:
        console.print(f"collector up at {base} (log: {data_dir / 'collector.log'})")
        with httpx.Client(
            base_url=base, timeout=60, headers={"Authorization": f"Bearer {admin}"}
        ) as client:
            link_ids = create_links(client, story)
            console.print(
                f"registered {len(link_ids)} campaign links for {len(link_ids) // 2} videos"
            )
            tally = import_history(client, story, link_ids)
            tally += live_traffic(client, story, link_ids)
            with _refund_client(base, refunder) as office:
                tally += send_refunds(office, refunds.before_prune)
            # The collector acknowledges once events are in its fsync'ed log; turn the
            # log into Parquet now rather than at its next rotation, for the pipeline.
            client.post("/api/admin/flush").raise_for_status()
        for key, n in sorted(tally.items()):
            console.print(f"  {key:<32} {n:>6}")
        console.rule("pipeline")
        from orchestration.run import run_pipeline

        run = run_pipeline(settings, today)
        if run is None or not run.success:
            console.print("[red]the pipeline failed; see the log above[/red]")
            return 1
        if refunds.after_prune is not None and not refund_after_prune(
            settings, base, admin, refunder, refunds, today
        ):
            return 1
        console.rule("results")
        print_results(settings)
        print_net_revenue(settings, refunds)
        console.print(
            "The imported history planted: "
            + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in story.planted.items())
        )
        sample = _sample_tracking_id(settings)
        if sample:
            resp = httpx.get(
                f"{base}/api/conversions/attribution/{sample}",
                headers={"Authorization": f"Bearer {reader}"},
                timeout=10,
            )
            console.print(
                f"read API, GET /api/conversions/attribution/{sample}: {resp.status_code}"
            )
            console.print_json(resp.text)
        # The pipeline's last step wrote the report; the collector serves it too.
        served = httpx.get(
            f"{base}/report", headers={"Authorization": f"Bearer {reader}"}, timeout=10
        )
        console.print(f"GET /report: {served.status_code}, {len(served.content):,} bytes")
    report = report_path(settings)
    if not report.exists():
        console.print("[red]the pipeline wrote no report; see the log above[/red]")
        return 1
    console.rule("next")
    console.print(
        f"finished in {time.monotonic() - started:.0f} s.\n"
        f"  query the marts:  .venv/bin/duckdb -readonly {_rel(settings.published_path)}\n"
        f"                    e.g. select * from mart_revenue_by_type;\n"
        f"  Dagster UI:       make dagster-dev   (then open http://127.0.0.1:3000)\n"
        f"  raw events:       {_rel(settings.raw_dir)}/<stream>/dt=YYYY-MM-DD/*.parquet\n"
        f"  the report (one file, opens offline; `convtrack report --help` for other ones):"
    )
    # Last, alone on its line: the path a script or a reader takes from the output.
    console.print(_rel(report), soft_wrap=True)
    return 0


def _refund_client(base: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"})


def refund_after_prune(
    settings: Settings, base: str, admin: str, refunder: str, refunds: RefundPlan, today: dt.date
) -> bool:
    """Retention, as `convtrack pipeline prune` applies it; then a refund of a purchase
    whose click it removed, and the pipeline again: the refund still counts against the
    purchase's link (the prune kept the order's facts, docs/rules.md#refunds). False when
    a run failed."""
    from orchestration.run import run_pipeline, run_prune

    console.rule("retention, then a late refund")
    started = time.monotonic()
    pruned = run_prune(settings, today)
    if not pruned.success:
        console.print("[red]the prune failed; see the log above[/red]")
        return False
    console.print(f"prune run {pruned.run_id}: row-level data before {pruned.cutoff} removed")
    with _refund_client(base, refunder) as client:
        tally = send_refunds(client, [refunds.after_prune])
    with httpx.Client(base_url=base, timeout=60) as client:
        flushed = client.post("/api/admin/flush", headers={"Authorization": f"Bearer {admin}"})
        flushed.raise_for_status()
    console.print(
        f"refund of order {refunds.after_prune['order_id']} (its click is past retention): "
        + ", ".join(f"{k} {n}" for k, n in sorted(tally.items()))
    )
    run = run_pipeline(settings, today)
    if run is None or not run.success:
        console.print("[red]the pipeline failed; see the log above[/red]")
        return False
    console.print(
        f"the prune, the late refund and the second run took {time.monotonic() - started:.0f} s"
    )
    return True


def print_net_revenue(settings: Settings, refunds: RefundPlan) -> None:
    """Gross revenue, refunds and net revenue per video (`mart_video_revenue`), the refund
    ledger by reason, and where the refund sent after the prune was credited."""
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        rows = con.execute(
            """
            select coalesce(t.title, ''), v.youtube_video_id, v.purchases, v.revenue,
                   v.refunded_revenue, v.net_revenue, v.refund_rate
            from mart_video_revenue as v
            left join (
                select youtube_video_id, string_agg(distinct campaign_name, ', ') as title
                from dim_campaign_links
                group by youtube_video_id
            ) as t
                on v.youtube_video_id is not distinct from t.youtube_video_id
            order by v.net_revenue desc, v.youtube_video_id
            """
        ).fetchall()
        ledger = con.execute(
            "select reason, count(*), sum(uncredited_amount) from fct_unattributed_refunds "
            "group by 1 order by 1"
        ).fetchall()
        late = None
        if refunds.after_prune is not None:
            late = con.execute(
                "select l.short_code, r.credited_amount from fct_refunds r "
                "join dim_campaign_links l using (campaign_link_id) where r.event_id = ?",
                [refunds.after_prune["event_id"]],
            ).fetchone()
    table = Table(title="Gross, refunded and net revenue per video")
    for col in ("video", "id", "purchases", "gross", "refunds", "net", "refund rate"):
        table.add_column(col, justify="left" if col in ("video", "id") else "right")
    for title, video, purchases, gross, refunded, net, rate in rows:
        table.add_row(
            title,
            video or "",
            str(purchases),
            f"{gross:,.2f}",
            f"{refunded:,.2f}",
            f"{net:,.2f}",
            "n/a" if rate is None else f"{rate:.1%}",
        )
    console.print(table)
    console.print(
        f"Amounts in {settings.currency}. Refunds sent: "
        + ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in refunds.planted.items())
    )
    console.print(
        "Refunds not credited: "
        + (", ".join(f"{reason} {n} ({amount:,.2f})" for reason, n, amount in ledger) or "none")
    )
    if late is not None:
        console.print(
            f"The refund sent after the prune counts against link {late[0]}: {late[1]:,.2f}"
        )


def _sample_tracking_id(settings: Settings) -> str | None:
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        row = con.execute(
            "select tracking_id from mart_attribution where conversions > 1 "
            "order by revenue desc, tracking_id limit 1"
        ).fetchone()
    return row[0] if row else None


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
