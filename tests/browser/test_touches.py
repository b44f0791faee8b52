"""Touch paths (docs/api.md#touch-paths) in a real browser: the tracker remembers the
campaign clicks a visitor came through and sends them with the conversion, and the
warehouse shares the conversion among them under each attribution model."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import duckdb
import pytest
import uuid_utils
from playwright.sync_api import Page

from collector.validation.rules import MAX_TOUCHES
from convtrack.core.rules import dbt_vars, default_attribution_window_days
from convtrack.core.settings import Settings
from tests.browser.conftest import Site, Tab, acknowledged, raw_rows
from tests.conftest import Collector

pytestmark = pytest.mark.browser

TOUCHES_KEY = "ct_touches"


def make_link(collector: Collector, site: Site, code: str, page: str, video: str) -> dict:
    with collector.admin() as admin:
        resp = admin.post(
            "/api/campaign-links",
            json={
                "short_code": code,
                "destination_url": f"{site.url}/{page}",
                "campaign_name": f"video {video}",
                "youtube_video_id": video,
                "placement": "description",
            },
        )
    assert resp.status_code == 201, resp.text
    return resp.json()


def land(page: Page, collector: Collector, site: Site, link: dict) -> dict:
    """Click the link (a real redirect); the touch it made, as the tracker sends it."""
    page.goto(f"{collector.base_url}/c/{link['short_code']}")
    landed = urlsplit(page.url)
    assert landed.path == urlsplit(link["destination_url"]).path
    query = parse_qs(landed.query)
    assert query["ct_campaign_link_id"] == [link["campaign_link_id"]]
    return {
        "tracking_id": query["ct_tracking_id"][0],
        "campaign_link_id": link["campaign_link_id"],
    }


def sent_bodies(tab: Tab) -> list[dict]:
    return [r.post_data_json for r in tab.conversion_requests() if r.method == "POST"]


def stored(page: Page, storage: str = "sessionStorage") -> list[dict] | None:
    text = page.evaluate(f"window.{storage}.getItem('{TOUCHES_KEY}')")
    return None if text is None else json.loads(text)


def minted(ago: dt.timedelta) -> str:
    """A tracking id as the redirect mints it (UUIDv7), for a click `ago` before now."""
    clicked = dt.datetime.now(dt.UTC) - ago
    return str(uuid_utils.uuid7(nanoseconds=int(clicked.timestamp() * 1e9)))


def largest_remainder(shares: list[float], units: int) -> list[int]:
    """docs/rules.md#attribution-models: each share rounded down, the units left one each
    to the largest remainders, the later touch first on a tie."""
    floors = [math.floor(units * s) for s in shares]
    order = sorted(range(len(shares)), key=lambda i: (units * shares[i] - floors[i], i))
    for i in reversed(order[len(order) - (units - sum(floors)) :]):
        floors[i] += 1
    return floors


@pytest.mark.slow
def test_a_visitor_from_two_videos_pays_once_and_each_model_splits_the_revenue(
    tab: Tab, collector: Collector, site: Site, link: dict
) -> None:
    chair = make_link(collector, site, "chair-review", "offer.html", "chairVideo1")
    first = land(tab.page, collector, site, link)  # landing.html, from the desk video
    second = land(tab.page, collector, site, chair)  # offer.html, from the chair video
    tab.page.click("#to-checkout")
    tab.page.wait_for_url(f"{site.url}/checkout.html")

    answer = tab.page.evaluate("CampaignTracker.trackPurchase('100.00', {orderId: 'path-1'})")

    assert answer["status"] == "accepted", answer
    [body] = sent_bodies(tab)
    assert body["touches"] == [first, second]  # oldest first, its own ids last
    assert (body["tracking_id"], body["campaign_link_id"]) == tuple(second.values())
    assert tab.page_errors == []

    clicks = {c["tracking_id"]: c["clicked_at"] for c in acknowledged(collector, "clicks")}
    [conversion] = raw_rows(collector.data_dir, "conversions")
    # As an operator runs it, in its own process: Dagster's run must not share this
    # thread's event loop with Playwright's.
    as_of = conversion["converted_at"].date().isoformat()
    built = subprocess.run(
        [str(Path(sys.executable).parent / "convtrack"), "pipeline", "run", "--as-of", as_of],
        env={**os.environ, "CONVTRACK_DATA_DIR": str(collector.data_dir)},
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr[-4000:]
    settings = Settings(data_dir=collector.data_dir)

    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        rows = con.execute(
            "select attribution_model, campaign_link_id, credited_conversions, "
            "credited_revenue from mart_attribution_models where event_type = 'purchase'"
        ).fetchall()
    credits = {(model, link_id): (n, revenue) for model, link_id, n, revenue in rows}

    desk, chair_id = first["campaign_link_id"], second["campaign_link_id"]
    # time_decay: each click weighs 2^(-age / half-life), age from its click to the purchase;
    # seconds apart, out of a 7-day half-life, the two weigh almost the same.
    half_life = dt.timedelta(days=float(dbt_vars()["time_decay_half_life_days"]))
    weights = [
        0.5 ** ((conversion["converted_at"] - clicks[t["tracking_id"]]) / half_life)
        for t in (first, second)
    ]
    shares = [w / sum(weights) for w in weights]
    decay_cents = largest_remainder(shares, 10_000)
    decay_millionths = largest_remainder(shares, 1_000_000)
    assert decay_cents == [5_000, 5_000]
    expected = {
        "last_click": ((0, 1), (0, 100)),
        "first_click": ((1, 0), (100, 0)),
        "linear": ((Decimal("0.5"), Decimal("0.5")), (50, 50)),
        "position_based": ((Decimal("0.5"), Decimal("0.5")), (50, 50)),
        "time_decay": (
            tuple(Decimal(m) / 1_000_000 for m in decay_millionths),
            tuple(Decimal(c) / 100 for c in decay_cents),
        ),
    }
    assert credits == {
        (model, link_id): (Decimal(n), Decimal(revenue).quantize(Decimal("0.01")))
        for model, (conversions, revenues) in expected.items()
        for link_id, n, revenue in zip((desk, chair_id), conversions, revenues, strict=True)
    }


def test_the_path_keeps_the_latest_ten_within_the_window_each_touch_once(
    tab: Tab, collector: Collector, site: Site, link: dict
) -> None:
    window = dt.timedelta(days=default_attribution_window_days())
    link_id = link["campaign_link_id"]
    too_old = {"tracking_id": minted(window + dt.timedelta(days=1)), "campaign_link_id": link_id}
    recent = [
        {"tracking_id": minted(dt.timedelta(hours=48 - i)), "campaign_link_id": link_id}
        for i in range(MAX_TOUCHES)
    ]
    junk = [{"tracking_id": "not-a-uuid", "campaign_link_id": link_id}, 7, None]
    # Another page of the site left these in the tab's storage.
    tab.page.goto(f"{site.url}/bye.html")
    tab.page.evaluate(
        f"(t) => sessionStorage.setItem('{TOUCHES_KEY}', JSON.stringify(t))",
        [*recent[:5], too_old, *recent[5:], *junk],
    )

    own = land(tab.page, collector, site, link)

    # Past the window and malformed: gone; of the rest, the oldest makes room.
    assert stored(tab.page) == [*recent[1:], own]
    assert tab.page.evaluate("CampaignTracker.trackPurchase(30)")["status"] == "accepted"
    assert sent_bodies(tab)[-1]["touches"] == [*recent[1:], own]

    # Back on a link the visitor came through before: it moves to the end, kept once.
    again = recent[4]
    tab.page.goto(
        f"{site.url}/landing.html?ct_tracking_id={again['tracking_id']}"
        f"&ct_campaign_link_id={again['campaign_link_id']}"
    )
    path = [t for t in recent[1:] if t != again] + [own, again]
    assert stored(tab.page) == path
    answer = tab.page.evaluate("CampaignTracker.trackNewsletterSignup()")
    assert answer["status"] == "accepted", answer
    body = sent_bodies(tab)[-1]
    assert body["touches"] == path
    assert body["tracking_id"] == again["tracking_id"]
    assert tab.page_errors == []


def test_one_touch_is_sent_as_no_touches_and_nothing_outlives_the_tab_by_default(
    tab: Tab, collector: Collector, site: Site, link: dict
) -> None:
    own = land(tab.page, collector, site, link)
    assert tab.page.evaluate("CampaignTracker.trackPurchase(10)")["status"] == "accepted"
    assert "touches" not in sent_bodies(tab)[0]  # its own click alone: the same thing
    assert stored(tab.page) == [own]
    assert tab.page.evaluate("localStorage.length") == 0

    later = tab.page.context.new_page()  # a new tab: a new session
    later.goto(f"{site.url}/checkout.html")
    assert later.evaluate("CampaignTracker.getAttribution()") is None
    assert stored(later) is None
    assert tab.page.context.cookies() == []


def test_local_storage_opt_in_keeps_the_path_across_tabs(
    tab: Tab, collector: Collector, site: Site
) -> None:
    desk = make_link(collector, site, "desk-local", "local/landing.html", "deskVideo01")
    chair = make_link(collector, site, "chair-local", "local/landing.html", "chairVideo1")
    context = tab.page.context
    first = land(tab.page, collector, site, desk)
    tab.page.close()
    second_tab = context.new_page()
    second = land(second_tab, collector, site, chair)
    second_tab.close()

    buyer = context.new_page()  # a third tab, straight to the checkout: no ids in its URL
    requests = []
    buyer.on("request", lambda r: requests.append(r))
    buyer.goto(f"{site.url}/local/checkout.html")
    assert stored(buyer, "sessionStorage") is None
    assert stored(buyer, "localStorage") == [first, second]
    answer = buyer.evaluate("CampaignTracker.trackPurchase(20, {orderId: 'local-1'})")

    assert answer["status"] == "accepted", answer
    [body] = [r.post_data_json for r in requests if r.method == "POST"]
    assert body["touches"] == [first, second]
    assert (body["tracking_id"], body["campaign_link_id"]) == tuple(second.values())
    assert context.cookies() == []
    [row] = acknowledged(collector, "conversions")
    assert row["tracking_id"] == second["tracking_id"]


def test_local_storage_keeps_a_touch_no_longer_than_the_window(
    tab: Tab, collector: Collector, site: Site
) -> None:
    desk = make_link(collector, site, "desk-local", "local/landing.html", "deskVideo01")
    context = tab.page.context
    now = dt.datetime.now(dt.UTC)
    context.clock.install(time=now)
    touch = land(tab.page, collector, site, desk)
    window = dt.timedelta(days=default_attribution_window_days())

    # The window's last day: floor(age / 1 day) is still the window.
    context.clock.set_system_time(now + window + dt.timedelta(hours=23))
    last_day = context.new_page()
    last_day.goto(f"{site.url}/local/checkout.html")
    assert last_day.evaluate("CampaignTracker.getAttribution()") == {
        "trackingId": touch["tracking_id"],
        "campaignLinkId": touch["campaign_link_id"],
    }

    context.clock.set_system_time(now + window + dt.timedelta(days=1, minutes=1))
    past = context.new_page()
    warnings: list[str] = []
    past.on("console", lambda m: m.type == "warning" and warnings.append(m.text))
    past.goto(f"{site.url}/local/checkout.html")

    assert stored(past, "localStorage") is None  # removed from the disk, not only skipped
    assert past.evaluate("CampaignTracker.trackPurchase(10)") is None
    assert any("no campaign attribution" in w for w in warnings), warnings
    assert acknowledged(collector, "conversions") == []


BLOCKED = """
for (const name of ['sessionStorage', 'localStorage']) {
  Object.defineProperty(window, name, {
    get() { throw new DOMException('storage is disabled', 'SecurityError'); },
  });
}
"""
FULL = """
Storage.prototype.setItem = function () {
  throw new DOMException('quota', 'QuotaExceededError');
};
"""


@pytest.mark.parametrize("page", ["landing.html", "local/landing.html"])
def test_storage_blocked_still_sends_the_conversion(
    tab: Tab, collector: Collector, site: Site, page: str
) -> None:
    desk = make_link(collector, site, "desk-2", page, "deskVideo01")
    tab.page.add_init_script(BLOCKED)

    own = land(tab.page, collector, site, desk)
    answer = tab.page.evaluate("CampaignTracker.trackPurchase(15)")

    assert answer["status"] == "accepted", answer
    [body] = sent_bodies(tab)
    assert (body["tracking_id"], body["campaign_link_id"]) == tuple(own.values())
    assert "touches" not in body
    assert tab.page_errors == []


@pytest.mark.parametrize(
    ("page", "storage"),
    [("landing.html", "sessionStorage"), ("local/landing.html", "localStorage")],
)
def test_storage_full_keeps_the_new_click_over_what_storage_still_holds(
    tab: Tab, collector: Collector, site: Site, page: str, storage: str
) -> None:
    desk = make_link(collector, site, "desk-2", page, "deskVideo01")
    before = {"tracking_id": minted(dt.timedelta(hours=2)), "campaign_link_id": str(uuid4())}
    # An earlier click of this tab, kept while there was room.
    tab.page.goto(f"{site.url}/bye.html")
    tab.page.evaluate(
        """([storage, key, touch]) => {
            sessionStorage.setItem('ct_tracking_id', touch.tracking_id);
            sessionStorage.setItem('ct_campaign_link_id', touch.campaign_link_id);
            window[storage].setItem(key, JSON.stringify([touch]));
        }""",
        [storage, TOUCHES_KEY, before],
    )
    tab.page.add_init_script(FULL)

    own = land(tab.page, collector, site, desk)  # storage refuses to keep it
    answer = tab.page.evaluate("CampaignTracker.trackPurchase(15)")

    assert answer["status"] == "accepted", answer
    [body] = sent_bodies(tab)
    assert (body["tracking_id"], body["campaign_link_id"]) == tuple(own.values())
    assert body["touches"] == [before, own]
    assert stored(tab.page, storage) == [before]  # untouched
    assert tab.page_errors == []


@pytest.mark.parametrize(
    "text", ["{not json", '{"tracking_id": "x"}', "null", '[{"tracking_id": 1}]']
)
def test_corrupted_touches_in_storage_count_as_none(
    tab: Tab, collector: Collector, site: Site, link: dict, text: str
) -> None:
    tab.page.goto(f"{site.url}/bye.html")
    tab.page.evaluate(f"(t) => sessionStorage.setItem('{TOUCHES_KEY}', t)", text)

    own = land(tab.page, collector, site, link)
    answer = tab.page.evaluate("CampaignTracker.trackPurchase(15)")

    assert answer["status"] == "accepted", answer
    assert "touches" not in sent_bodies(tab)[0]
    assert stored(tab.page) == [own]  # written afresh
    assert tab.page_errors == []
