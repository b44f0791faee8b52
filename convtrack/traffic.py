"""Synthetic but realistic creator traffic, seeded: the demo's story (and a benchmark's).

A handful of videos, each with campaign links in its description and pinned comment.
Clicks rise when a video is published and decay after; humans sometimes sign up, enrol
or buy days later. The story also has the mess real data has: bots and link previews,
retries of the same event, an order sent twice, conversions with no click, with the
wrong link, weeks too late, and a few seconds before their click (clock skew). Some
viewers are multi-touch: they came through another video's link days before the click
they converted after, so their conversions carry both touches (docs/api.md#touch-paths)
and the attribution models disagree about them.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

import uuid_utils

HUMAN_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Mobile Safari/537.36",
]
BOT_AGENTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "Twitterbot/1.0",
]
REFERRERS = ["https://www.youtube.com/", "https://m.youtube.com/", None]

VIDEOS = [
    ("Build a data warehouse in a weekend", "course"),
    ("DuckDB tricks nobody told you", "newsletter"),
    ("I tried dbt for 30 days", "course"),
    ("My desk setup (2026)", "shop"),
    ("Dagster vs cron: a fair fight", "newsletter"),
]
PLACEMENTS = ["description", "pinned_comment"]


@dataclass(frozen=True)
class LinkPlan:
    short_code: str
    destination_url: str
    campaign_name: str
    youtube_video_id: str
    placement: str
    published_on: dt.date
    popularity: float
    offer: str


@dataclass
class Story:
    links: list[LinkPlan]
    # Historical events for the import API; campaign_link_id is filled in by short_code,
    # in a conversion's touches too.
    clicks: list[dict] = field(default_factory=list)
    conversions: list[dict] = field(default_factory=list)
    # What the story expects the warehouse to say (for the demo's own check).
    planted: dict[str, int] = field(default_factory=dict)


def _video_id(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(rng.choice(alphabet) for _ in range(11))


def _uuid7_at(ts: dt.datetime, rng: random.Random) -> str:
    ns = int(ts.timestamp() * 1e9) + rng.randrange(1000)
    return str(uuid_utils.uuid7(nanoseconds=ns))


def _iso(ts: dt.datetime) -> str:
    return ts.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def plan_links(rng: random.Random, today: dt.date, days: int) -> list[LinkPlan]:
    links = []
    for i, (title, offer) in enumerate(VIDEOS):
        vid = _video_id(rng)
        published = today - dt.timedelta(days=rng.randrange(5, days))
        popularity = rng.uniform(40, 160)
        for placement in PLACEMENTS:
            links.append(
                LinkPlan(
                    short_code=f"v{i + 1}-{placement.split('_')[0]}",
                    destination_url=(
                        f"https://creator.example/{offer}?utm_source=youtube&utm_content={vid}"
                        "#start"
                    ),
                    campaign_name=title,
                    youtube_video_id=vid,
                    placement=placement,
                    published_on=published,
                    popularity=popularity * (1.0 if placement == "description" else 0.4),
                    offer=offer,
                )
            )
    return links


def build_story(today: dt.date, days: int = 60, seed: int = 7, scale: float = 1.0) -> Story:
    """The historical part of the story: clicks and conversions before today, for import."""
    rng = random.Random(seed)
    links = plan_links(rng, today, days)
    story = Story(links=links)
    planted = dict.fromkeys(
        [
            "bots",
            "duplicates",
            "duplicate_orders",
            "no_click",
            "link_mismatch",
            "window_expired",
            "clock_skew",
            "multi_touch_viewers",
        ],
        0,
    )
    start = today - dt.timedelta(days=days)
    for link in links:
        for d in range(days):
            day = start + dt.timedelta(days=d)
            if day < link.published_on:
                continue
            age = (day - link.published_on).days
            expected = scale * link.popularity * math.exp(-age / 12.0) + scale * 2
            for _ in range(_poisson(rng, expected)):
                clicked_at = dt.datetime.combine(day, dt.time(), dt.UTC) + dt.timedelta(
                    seconds=rng.randrange(86400), microseconds=rng.randrange(10**6)
                )
                is_bot = rng.random() < 0.08
                # Half the history came from the creator's previous tracker (UUIDv4 ids);
                # the rest was minted by this collector (UUIDv7 carrying the click time).
                tracking_id = (
                    str(uuid.UUID(int=rng.getrandbits(128), version=4))
                    if rng.random() < 0.5
                    else _uuid7_at(clicked_at, rng)
                )
                story.clicks.append(
                    {
                        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                        "tracking_id": tracking_id,
                        "short_code": link.short_code,
                        "clicked_at": _iso(clicked_at),
                        "user_agent": rng.choice(BOT_AGENTS if is_bot else HUMAN_AGENTS),
                        "referrer": rng.choice(REFERRERS),
                        "ip_address": f"203.0.113.{rng.randrange(1, 255)}",
                    }
                )
                planted["bots"] += is_bot
                if not is_bot:
                    _conversions_for_click(
                        rng, story, link, tracking_id, clicked_at, today, planted
                    )
    # Conversions that cannot be credited to any click.
    for _ in range(max(3, int(10 * scale))):
        link = rng.choice(links)
        when = dt.datetime.combine(today, dt.time(), dt.UTC) - dt.timedelta(
            seconds=rng.randrange(days * 86400)
        )
        story.conversions.append(
            _conversion(rng, link, str(uuid.uuid4()), when, "newsletter_signup")
        )
        planted["no_click"] += 1
    # Drawn from their own generator, so the rest of the story stays as it was.
    planted["multi_touch_viewers"] = _earlier_touches(random.Random(seed + 1), story, start)
    story.planted = planted
    return story


# The share of converting viewers (with a tracking id this collector minted) who had come
# through other videos' links before; of those, the share with two earlier touches, not
# one; and how many days before each touch the previous one was.
MULTI_TOUCH_SHARE = 0.25
TWO_EARLIER_SHARE = 0.3
DAYS_BETWEEN_TOUCHES = (1.0, 10.0)


def _earlier_touches(rng: random.Random, story: Story, start: dt.date) -> int:
    """Give some converting viewers earlier clicks on other videos' links: clicks in the
    history, and touches before their own in each of their conversions. Only viewers
    whose click this collector minted (UUIDv7): the tracker never sends other ids as
    touches. Returns how many viewers."""
    clicks = {c["tracking_id"]: c for c in story.clicks}
    videos = {link.short_code: link.youtube_video_id for link in story.links}
    viewers = sorted(
        {c["tracking_id"] for c in story.conversions if c["tracking_id"][14] == "7"} & clicks.keys()
    )
    paths: dict[str, list[dict]] = {}
    for tracking_id in viewers:
        if rng.random() >= MULTI_TOUCH_SHARE:
            continue
        click = clicks[tracking_id]
        when = dt.datetime.fromisoformat(click["clicked_at"])
        path: list[dict] = []
        for _ in range(2 if rng.random() < TWO_EARLIER_SHARE else 1):
            when -= dt.timedelta(days=rng.uniform(*DAYS_BETWEEN_TOUCHES))
            others = [
                link
                for link in story.links
                if link.youtube_video_id != videos[click["short_code"]]
                and link.published_on <= when.date()
            ]
            if when.date() < start or not others:
                break
            other = rng.choice(others)
            touch_id = _uuid7_at(when, rng)
            story.clicks.append(
                dict(
                    click,
                    event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    tracking_id=touch_id,
                    short_code=other.short_code,
                    clicked_at=_iso(when),
                )
            )
            path.insert(0, {"tracking_id": touch_id, "short_code": other.short_code})
        if path:
            paths[tracking_id] = path
    for conv in story.conversions:
        path = paths.get(conv["tracking_id"])
        if path:
            own = {"tracking_id": conv["tracking_id"], "short_code": conv["short_code"]}
            conv["touches"] = [*path, own]
    return len(paths)


def _conversions_for_click(rng, story, link, tracking_id, clicked_at, today, planted) -> None:
    rates = {
        "newsletter": (0.12, 0.01, 0.01),
        "course": (0.05, 0.04, 0.01),
        "shop": (0.03, 0.0, 0.07),
    }
    p_news, p_course, p_buy = rates[link.offer]
    now = dt.datetime.combine(today, dt.time(), dt.UTC)
    for event_type, p in (
        ("newsletter_signup", p_news),
        ("course_enrollment", p_course),
        ("purchase", p_buy),
    ):
        if rng.random() >= p:
            continue
        delay = dt.timedelta(hours=rng.expovariate(1 / 60))
        # Only clicks from the old tracker (UUIDv4) can convert too late: for a UUIDv7
        # the collector refuses that at the door (attribution_window_expired).
        late = rng.random() < 0.04 and tracking_id[14] == "4"
        skewed = not late and rng.random() < 0.02
        if late:
            delay = dt.timedelta(days=31, hours=rng.uniform(1, 200))
        elif skewed:
            delay = -dt.timedelta(seconds=rng.randrange(5, 180))
        converted_at = clicked_at + delay
        if converted_at >= now:
            continue
        planted["window_expired"] += late
        planted["clock_skew"] += skewed
        conv = _conversion(rng, link, tracking_id, converted_at, event_type)
        if rng.random() < 0.02:
            other = rng.choice([x for x in story.links if x.short_code != link.short_code])
            conv["short_code"] = other.short_code
            planted["link_mismatch"] += 1
        story.conversions.append(conv)
        if rng.random() < 0.03:
            story.conversions.append(dict(conv))  # a retry: same event_id
            planted["duplicates"] += 1
        if event_type == "purchase" and rng.random() < 0.05:
            again = dict(conv, event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)))
            story.conversions.append(again)  # the same order reported twice
            planted["duplicate_orders"] += 1


def _conversion(rng, link: LinkPlan, tracking_id: str, when: dt.datetime, event_type: str) -> dict:
    revenue = None
    order_id = None
    if event_type == "purchase":
        revenue = f"{rng.choice([9.99, 19.0, 29.99, 49.0, 129.0, 299.0]):.2f}"
        order_id = f"ord-{rng.getrandbits(40):010x}"
    elif event_type == "course_enrollment":
        revenue = f"{rng.choice([49.0, 99.0, 199.0]):.2f}"
    return {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "tracking_id": tracking_id,
        "short_code": link.short_code,
        "event_type": event_type,
        "revenue_amount": revenue,
        "order_id": order_id,
        "event_data": {"page": f"/{link.offer}/thanks"},
        "converted_at": _iso(when),
    }


def _poisson(rng: random.Random, lam: float) -> int:
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


@dataclass
class RefundPlan:
    """The merchant's refunds of the story's purchases (docs/rules.md#refunds), as the
    back office sends them to POST /api/refunds: `before_prune` with the rest of the
    traffic; `after_prune`, one refund of a purchase whose click retention removes, sent
    after a prune. `planted`: what each kind of refund is, for the demo to say."""

    before_prune: list[dict] = field(default_factory=list)
    after_prune: dict | None = None
    planted: dict[str, int] = field(default_factory=dict)


def _credited_purchases(story: Story) -> list[dict]:
    """Purchases the warehouse will credit, told from the story by hand: a human click
    of the same link before it, within the window, the only event of its order."""
    clicks = {c["tracking_id"]: c for c in story.clicks}
    per_order: dict[str, set[str]] = {}
    for conv in story.conversions:
        if conv["order_id"]:
            per_order.setdefault(conv["order_id"], set()).add(conv["event_id"])
    credited = []
    for conv in story.conversions:
        click = clicks.get(conv["tracking_id"])
        if conv["event_type"] != "purchase" or click is None:
            continue
        delay = dt.datetime.fromisoformat(conv["converted_at"]) - dt.datetime.fromisoformat(
            click["clicked_at"]
        )
        if (
            click["user_agent"] in HUMAN_AGENTS
            and click["short_code"] == conv["short_code"]
            and dt.timedelta(0) <= delay <= dt.timedelta(days=29)
            and len(per_order[conv["order_id"]]) == 1
        ):
            credited.append(conv)
    return credited


def plan_refunds(
    story: Story, today: dt.date, retention_cutoff: dt.date, seed: int = 9
) -> RefundPlan:
    """Refund some of the story's purchases: in full, in part (one order twice), one
    sent twice with the same event_id, one asking back more than the order's revenue, one
    of an order never sold, and one of a purchase whose click is older than
    `retention_cutoff` (sent after the prune). Drawn from its own generator, so the rest
    of the story stays as it was."""
    rng = random.Random(seed)
    now = dt.datetime.combine(today, dt.time(), dt.UTC)
    purchases = _credited_purchases(story)
    kept = [
        p
        for p in purchases
        if dt.datetime.fromisoformat(p["converted_at"]).date() >= retention_cutoff
    ]
    pruned = [
        p
        for p in purchases
        if dt.datetime.fromisoformat(p["converted_at"]).date()
        < retention_cutoff - dt.timedelta(days=2)
    ]
    rng.shuffle(kept)
    plan = RefundPlan(
        planted=dict.fromkeys(["full", "partial", "retried", "over", "never_sold"], 0)
    )

    def refund(purchase: dict, amount: Decimal, reason: str | None, days_after: float) -> dict:
        # `days_after` the purchase; a purchase too recent for that is refunded before
        # today, later the more days were asked (so one order's refunds keep their order).
        bought = dt.datetime.fromisoformat(purchase["converted_at"])
        at = bought + dt.timedelta(days=days_after)
        if at >= now:
            at = bought + (now - bought) * (days_after / 10)
        body = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "order_id": purchase["order_id"],
            "amount": f"{amount:.2f}",
            "refunded_at": _iso(at),
        }
        if reason:
            body["reason"] = reason
        plan.before_prune.append(body)
        return body

    reasons = ["changed mind", "arrived damaged", "wrong size", None]
    # First: one refund and its retry (the same event_id, counted once).
    retried = refund(kept[7], Decimal(kept[7]["revenue_amount"]) / 2, "retried", 2)
    plan.before_prune.append(dict(retried))
    plan.planted["retried"] += 1
    for purchase in kept[:4]:  # in full
        refund(
            purchase, Decimal(purchase["revenue_amount"]), rng.choice(reasons), rng.uniform(1, 9)
        )
        plan.planted["full"] += 1
    for purchase in kept[4:7]:  # in part; the first of them twice
        revenue = Decimal(purchase["revenue_amount"])
        refund(purchase, (revenue * Decimal("0.4")).quantize(Decimal("0.01")), "partial", 1)
        plan.planted["partial"] += 1
        if purchase is kept[4]:
            refund(purchase, (revenue * Decimal("0.25")).quantize(Decimal("0.01")), "partial", 3)
            plan.planted["partial"] += 1
    over = kept[8]
    refund(over, Decimal(over["revenue_amount"]) / 2, "partial", 1)
    refund(over, Decimal(over["revenue_amount"]), "chargeback", 4)  # the second half too much
    plan.planted["over"] += 1
    plan.before_prune.append(
        {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "order_id": f"ord-never-sold-{rng.getrandbits(24):06x}",
            "amount": "19.00",
            "reason": "refunded by mistake",
        }
    )
    plan.planted["never_sold"] += 1
    if pruned:
        late = rng.choice(pruned)
        plan.after_prune = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "order_id": late["order_id"],
            "amount": late["revenue_amount"],
            "reason": "returned after 30 days",
        }
    return plan
