"""A small published snapshot for the report's tests, built by the real pipeline from raw
Parquet whose every conversion is labelled by hand: credited, or the ledger's reason.

The expected figures are summed from these rows in the tests, never copied from a run.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import duckdb
from dagster import DagsterInstance

from convtrack.core import raw_schema
from convtrack.core.rules import default_attribution_window_days
from convtrack.core.settings import Settings
from orchestration.run import run_pipeline
from tests.collector.conftest import uuid7_at
from tests.raw_files import write_streams

AS_OF = dt.date(2026, 3, 31)
# The default headline period's length: the default attribution window.
WINDOW = default_attribution_window_days()
DESK = "0190f1a2-0000-7000-8000-0000000000d1"
DESK_PIN = "0190f1a2-0000-7000-8000-0000000000d2"
CHAIR = "0190f1a2-0000-7000-8000-0000000000c1"
LINKS = {  # id -> (short code, video)
    DESK: ("desk", "vid-desk"),
    DESK_PIN: ("desk-pin", "vid-desk"),
    CHAIR: ("chair", "vid-chair"),
}
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"
PREVIEW = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"


def day(days_before: int, hours: float = 12) -> dt.datetime:
    """A time `days_before` AS_OF (UTC, also the reporting time zone here)."""
    midnight = dt.datetime.combine(AS_OF - dt.timedelta(days=days_before), dt.time())
    return midnight + dt.timedelta(hours=hours)


@dataclass
class Story:
    clicks: list[dict] = field(default_factory=list)
    conversions: list[dict] = field(default_factory=list)
    # event_id -> None when credited, else the ledger's reason: labelled by hand.
    verdict: dict[str, str | None] = field(default_factory=dict)
    bots: set[str] = field(default_factory=set)
    # event_id -> model -> link -> revenue credited, labelled by hand, for the conversions
    # with touches; any other credited conversion gives all to its own link, every model.
    split: dict[str, dict[str, dict[str, Decimal]]] = field(default_factory=dict)
    refunds: list[dict] = field(default_factory=list)
    # refund event_id -> (the purchase it is credited against or None, the part credited,
    # the ledger's reason for the rest or None): labelled by hand (docs/rules.md#refunds).
    refund_verdict: dict[str, tuple[dict | None, Decimal, str | None]] = field(default_factory=dict)

    def click(self, link: str, at: dt.datetime, *, bot: bool = False) -> str:
        tracking = uuid7_at(at)
        self.clicks.append(
            dict(event_id=str(uuid.uuid4()), tracking_id=tracking, campaign_link_id=link,
                 clicked_at=at, received_at=at + dt.timedelta(seconds=1),
                 ip_address="203.0.113.0", user_agent=PREVIEW if bot else BROWSER,
                 referrer=None, source="import")
        )  # fmt: skip
        if bot:
            self.bots.add(tracking)
        return tracking

    def convert(
        self, tracking, link, kind, at, revenue=None, *, verdict=None, touches=(), split=None
    ) -> None:
        """`touches`: (tracking id, link) of the clicks before this one's, oldest first;
        `split`: what each model credits each link, by hand."""
        event_id = str(uuid.uuid4())
        path = [(t, k) for t, k in touches] + [(tracking, link)] if touches else None
        self.conversions.append(
            dict(event_id=event_id, tracking_id=tracking, campaign_link_id=link,
                 event_type=kind, revenue_amount=None if revenue is None else Decimal(revenue),
                 currency="USD", order_id=f"o-{event_id}" if kind == "purchase" else None,
                 event_data=None, converted_at=at, received_at=at + dt.timedelta(seconds=2),
                 source="import",
                 touches=raw_schema.touches_json(
                     path and [{"tracking_id": t, "campaign_link_id": k} for t, k in path]))
        )  # fmt: skip
        self.verdict[event_id] = verdict
        if split is not None:
            self.split[event_id] = {
                model: {k: Decimal(v) for k, v in per_link.items()}
                for model, per_link in split.items()
            }

    def refund(
        self, order_id: str, amount: str, at: dt.datetime, *, credited: str, reason=None
    ) -> None:
        """A refund of `order_id` at `at`; `credited`: the part credited against the
        order's purchase, by hand; `reason`: the ledger's for the rest."""
        event_id = str(uuid.uuid4())
        self.refunds.append(
            dict(event_id=event_id, order_id=order_id, amount=Decimal(amount), currency="USD",
                 reason="by hand", refunded_at=at, received_at=at + dt.timedelta(seconds=3),
                 source="import")
        )  # fmt: skip
        purchase = next((c for c in self.credited() if c["order_id"] == order_id), None)
        self.refund_verdict[event_id] = (purchase, Decimal(credited), reason)

    def purchase(self, link: str, at: dt.datetime) -> dict:
        """The purchase of `link` converted at `at`."""
        return next(
            c for c in self.conversions if c["campaign_link_id"] == link and c["converted_at"] == at
        )

    def refunded(self, link: str | None = None, video: str | None = None) -> Decimal:
        """What credited refunds took back from `link` (or `video`, or all): by hand."""
        return sum(
            (
                credited
                for purchase, credited, _ in self.refund_verdict.values()
                if purchase is not None
                and (link is None or purchase["campaign_link_id"] == link)
                and (video is None or LINKS[purchase["campaign_link_id"]][1] == video)
            ),
            Decimal("0.00"),
        )

    def refunded_between(self, start: dt.date, end: dt.date) -> Decimal:
        """What credited refunds took back from the purchases of days start..end (the
        accrual view: a refund counts on its purchase's day)."""
        return sum(
            (
                credited
                for purchase, credited, _ in self.refund_verdict.values()
                if purchase is not None and start <= purchase["converted_at"].date() <= end
            ),
            Decimal("0.00"),
        )

    def model_revenue(self, model: str, video: str | None = None) -> Decimal:
        """Revenue `model` credits to the links of `video` (or all), over all time: the
        model comparison, by hand."""
        total = Decimal("0.00")
        for c in self.credited():
            per_link = self.split.get(c["event_id"], {}).get(model) or {
                c["campaign_link_id"]: c["revenue_amount"] or Decimal(0)
            }
            total += sum(
                (v for k, v in per_link.items() if video is None or LINKS[k][1] == video),
                Decimal(0),
            )
        return total

    def credited(self) -> list[dict]:
        return [c for c in self.conversions if self.verdict[c["event_id"]] is None]

    def human_clicks(self) -> list[dict]:
        return [c for c in self.clicks if c["tracking_id"] not in self.bots]

    def totals(
        self, start: dt.date, end: dt.date, video: str | None = None
    ) -> tuple[int, int, Decimal]:
        """Human clicks, credited conversions and their revenue on days start..end (UTC,
        the reporting zone here), of one video's links or all: the headline, by hand."""

        def keep(row: dict, at: str) -> bool:
            return start <= row[at].date() <= end and (
                video is None or LINKS[row["campaign_link_id"]][1] == video
            )

        clicks = [c for c in self.human_clicks() if keep(c, "clicked_at")]
        credited = [c for c in self.credited() if keep(c, "converted_at")]
        revenue = sum((c["revenue_amount"] or Decimal(0) for c in credited), Decimal("0.00"))
        return len(clicks), len(credited), revenue


def story() -> Story:
    s = Story()
    # The headline period (the 30 days up to AS_OF).
    c1 = s.click(DESK, day(5))
    s.convert(c1, DESK, "purchase", day(5, 14), "49.99")
    s.convert(c1, DESK, "newsletter_signup", day(3))
    c2 = s.click(DESK, day(10))
    s.convert(c2, CHAIR, "purchase", day(9), "3.00", verdict="link_mismatch")
    c3 = s.click(DESK_PIN, day(8))
    s.convert(c3, DESK_PIN, "course_enrollment", day(1), "99.00")
    c4 = s.click(CHAIR, day(20))
    s.convert(c4, CHAIR, "purchase", day(20, 13), "20.00")
    s.click(CHAIR, day(4), bot=True)
    s.click(DESK_PIN, day(2))
    s.convert(str(uuid.uuid4()), CHAIR, "newsletter_signup", day(6), verdict="no_click")
    # Paths across videos, 7 days between clicks (time_decay halves per 7 days: weights
    # 1/2 and 1; 1/4, 1/2 and 1). 30.00 via CHAIR then DESK:
    t1 = s.click(CHAIR, day(19, 6))
    t2 = s.click(DESK, day(12, 6))
    s.convert(t2, DESK, "purchase", day(12, 6), "30.00", touches=[(t1, CHAIR)], split={
        "last_click": {DESK: "30.00"},
        "first_click": {CHAIR: "30.00"},
        "linear": {CHAIR: "15.00", DESK: "15.00"},
        "position_based": {CHAIR: "15.00", DESK: "15.00"},
        "time_decay": {CHAIR: "10.00", DESK: "20.00"},
    })  # fmt: skip
    # 70.00 via DESK, CHAIR, then DESK_PIN: linear 23.33 each and the cent left to the
    # last (a tie); position_based 40 / 20 / 40 %; time_decay 1/7, 2/7, 4/7.
    u1 = s.click(DESK, day(25, 9))
    u2 = s.click(CHAIR, day(18, 9))
    u3 = s.click(DESK_PIN, day(11, 9))
    s.convert(u3, DESK_PIN, "purchase", day(11, 9), "70.00", touches=[(u1, DESK), (u2, CHAIR)],
              split={
        "last_click": {DESK_PIN: "70.00"},
        "first_click": {DESK: "70.00"},
        "linear": {DESK: "23.33", CHAIR: "23.33", DESK_PIN: "23.34"},
        "position_based": {DESK: "28.00", CHAIR: "14.00", DESK_PIN: "28.00"},
        "time_decay": {DESK: "10.00", CHAIR: "20.00", DESK_PIN: "40.00"},
    })  # fmt: skip
    # The previous 30 days.
    p1 = s.click(DESK, day(40))
    s.convert(p1, DESK, "purchase", day(39), "10.00")
    p2 = s.click(CHAIR, day(45))
    s.convert(p2, CHAIR, "purchase", day(5), "7.00", verdict="window_expired")
    # Refunds (docs/rules.md#refunds). DESK's 49.99 in two parts, the second more than
    # what is left: 29.99 credited, 10.01 over.
    desk = s.purchase(DESK, day(5, 14))["order_id"]
    s.refund(desk, "20.00", day(3), credited="20.00")
    s.refund(desk, "40.00", day(2), credited="29.99", reason="exceeds_order_revenue")
    # CHAIR's 20.00, in part; the previous period's DESK purchase in full, refunded in
    # this period (cash here, accrual there); the 30.00 path, half.
    s.refund(s.purchase(CHAIR, day(20, 13))["order_id"], "5.00", day(19), credited="5.00")
    s.refund(s.purchase(DESK, day(39))["order_id"], "10.00", day(25), credited="10.00")
    s.refund(s.purchase(DESK, day(12, 6))["order_id"], "15.00", day(10), credited="15.00")
    # Orders never credited: the purchase of the wrong link, and one never sold.
    mismatch = s.purchase(CHAIR, day(9))["order_id"]
    s.refund(mismatch, "3.00", day(8), credited="0.00", reason="order_not_credited")
    s.refund("o-never-sold", "7.77", day(4), credited="0.00", reason="order_not_credited")
    return s


def snapshot_rows(settings: Settings, sql: str) -> list[dict]:
    """The rows of a query over the published snapshot, as dicts."""
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        result = con.execute(sql)
        names = [d[0] for d in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def link_rows(at: dt.datetime) -> list[dict]:
    return [
        dict(campaign_link_id=link, short_code=code, destination_url=f"https://creator.example/{code}",
             campaign_name=code.replace("-", " ").title(), youtube_video_id=video,
             placement="description", created_at=at, disabled_at=None, recorded_at=at)
        for link, (code, video) in LINKS.items()
    ]  # fmt: skip


def build(data_dir: Path, s: Story | None, monkeypatch) -> Settings:
    """Raw files of `s` (only the links when None), one pipeline run as of AS_OF."""
    # dbt runs as a subprocess and finds the warehouse through this variable.
    monkeypatch.setenv("CONVTRACK_DATA_DIR", str(data_dir))
    settings = Settings(data_dir=data_dir)
    streams = {"campaign_links": link_rows(day(70))}
    if s is not None:
        streams |= {"clicks": s.clicks, "conversions": s.conversions, "refunds": s.refunds}
    write_streams(settings.raw_dir, streams)
    run = run_pipeline(settings, AS_OF, instance=DagsterInstance.ephemeral(), log_level="WARNING")
    assert run is not None and run.success
    return settings
