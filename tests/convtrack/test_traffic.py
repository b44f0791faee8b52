"""The demo's story (convtrack/traffic.py): its multi-touch viewers carry paths the tracker
could have sent (docs/api.md#touch-paths)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from convtrack.traffic import build_story, plan_refunds

TODAY = dt.date(2026, 3, 1)


def test_multi_touch_viewers_carry_earlier_clicks_on_other_videos() -> None:
    story = build_story(TODAY, seed=3)
    clicks = {c["tracking_id"]: c for c in story.clicks}
    videos = {link.short_code: link.youtube_video_id for link in story.links}
    with_touches = [c for c in story.conversions if "touches" in c]

    assert len({c["tracking_id"] for c in with_touches}) == story.planted["multi_touch_viewers"]
    assert {len(c["touches"]) for c in with_touches} == {2, 3}
    for conv in with_touches:
        *earlier, own = conv["touches"]
        assert own == {"tracking_id": conv["tracking_id"], "short_code": conv["short_code"]}
        times = [clicks[t["tracking_id"]]["clicked_at"] for t in conv["touches"]]
        assert times == sorted(times)  # oldest first, as the tracker keeps them
        for touch in earlier:
            assert touch["tracking_id"][14] == "7"  # a UUIDv7: the tracker could age it
            assert videos[touch["short_code"]] != videos[clicks[own["tracking_id"]]["short_code"]]


def test_the_refunds_tell_every_case_the_warehouse_judges() -> None:
    """docs/rules.md#refunds: full and partial refunds, a retry, an over-refund, an order
    never sold, and one of a purchase whose click retention removes, sent after it."""
    story = build_story(TODAY, seed=3)
    cutoff = TODAY - dt.timedelta(days=31)
    plan = plan_refunds(story, TODAY, cutoff)
    purchases = {c["order_id"]: c for c in story.conversions if c["order_id"]}
    refunds = plan.before_prune

    # The first refund and its retry: one event_id, sent twice.
    assert refunds[0] == refunds[1]
    assert len({r["event_id"] for r in refunds}) == len(refunds) - 1
    asked: dict[str, Decimal] = {}
    for r in refunds[1:]:
        asked[r["order_id"]] = asked.get(r["order_id"], Decimal(0)) + Decimal(r["amount"])
    never_sold = [o for o in asked if o not in purchases]
    assert len(never_sold) == plan.planted["never_sold"] == 1
    revenue = {o: Decimal(purchases[o]["revenue_amount"]) for o in asked if o in purchases}
    assert sum(asked[o] > revenue[o] for o in revenue) == plan.planted["over"] == 1
    assert sum(asked[o] == revenue[o] for o in revenue) == plan.planted["full"]
    assert sum(asked[o] < revenue[o] for o in revenue) >= 3  # in part (one order twice)
    for r in refunds:
        if r["order_id"] in purchases:
            bought = dt.datetime.fromisoformat(purchases[r["order_id"]]["converted_at"])
            refunded = dt.datetime.fromisoformat(r["refunded_at"])
            assert bought < refunded < dt.datetime.combine(TODAY, dt.time(), dt.UTC)
    # Sent after the prune: a purchase whose click is past retention, refunded in full.
    late = purchases[plan.after_prune["order_id"]]
    assert dt.datetime.fromisoformat(late["converted_at"]).date() < cutoff
    assert plan.after_prune["amount"] == late["revenue_amount"]
