"""The tracker (docs/api.md#the-tracker) in a real browser, on a landing site of another origin."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Route

from tests.browser.conftest import Site, Tab, acknowledged
from tests.conftest import Collector

pytestmark = pytest.mark.browser


def follow_link(tab: Tab, collector: Collector, site: Site, link: dict) -> str:
    """Click the campaign link as a viewer would; the tracking id the redirect minted."""
    tab.page.goto(f"{collector.base_url}/c/{link['short_code']}")
    landed = urlsplit(tab.page.url)
    assert f"{landed.scheme}://{landed.netloc}{landed.path}" == f"{site.url}/landing.html"
    query = parse_qs(landed.query)
    assert query["ct_campaign_link_id"] == [link["campaign_link_id"]]
    assert query["utm_source"] == ["youtube"]
    return query["ct_tracking_id"][0]


def test_purchase_on_a_later_page_arrives_with_the_links_attribution(
    tab: Tab, collector: Collector, site: Site, link: dict
) -> None:
    tracking_id = follow_link(tab, collector, site, link)
    tab.page.click("#to-checkout")
    tab.page.wait_for_url(f"{site.url}/checkout.html")  # no attribution in this URL

    assert tab.page.evaluate("CampaignTracker.getAttribution()") == {
        "trackingId": tracking_id,
        "campaignLinkId": link["campaign_link_id"],
    }
    answer = tab.page.evaluate(
        "CampaignTracker.trackPurchase(49.99, {orderId: 'A-1001', eventData: {sku: 'mat'}})"
    )

    assert answer["status"] == "accepted", answer
    [row] = acknowledged(collector, "conversions")
    assert row["event_id"] == answer["event_id"]
    assert row["tracking_id"] == tracking_id
    assert row["campaign_link_id"] == link["campaign_link_id"]
    assert row["event_type"] == "purchase"
    assert row["revenue_amount"] == Decimal("49.99")
    assert row["order_id"] == "A-1001"
    assert json.loads(row["event_data"]) == {"sku": "mat"}
    # The conversion joins a click the redirect recorded.
    clicks = acknowledged(collector, "clicks")
    assert [c["tracking_id"] for c in clicks] == [tracking_id]
    # It went cross-origin, from the landing site.
    [post] = [r for r in tab.conversion_requests() if r.method == "POST"]
    assert post.header_value("origin") == site.url
    assert tab.page_errors == []


def test_visitor_without_attribution_sends_nothing_and_gets_a_warning(
    tab: Tab, collector: Collector, site: Site, link: dict
) -> None:
    tab.page.goto(f"{site.url}/checkout.html")  # came straight, not through a link

    with tab.page.expect_console_message(
        lambda m: m.type == "warning" and "no campaign attribution" in m.text
    ):
        answer = tab.page.evaluate("CampaignTracker.trackPurchase(10)")

    assert answer is None
    assert tab.page.evaluate("CampaignTracker.getAttribution()") is None
    assert tab.conversion_requests() == []
    assert acknowledged(collector, "conversions") == []
    assert tab.page_errors == []


def test_refused_event_resolves_with_the_error_and_throws_nothing(
    tab: Tab, collector: Collector, site: Site, link: dict
) -> None:
    follow_link(tab, collector, site, link)

    with tab.page.expect_console_message(
        lambda m: m.type == "warning" and "revenue_precision" in m.text
    ):
        outcome = tab.page.evaluate(
            """async () => {
                try {
                    return {threw: false, answer: await CampaignTracker.trackPurchase(19.999)};
                } catch (e) {
                    return {threw: true, error: String(e)};
                }
            }"""
        )

    assert outcome["threw"] is False, outcome
    assert outcome["answer"]["detail"]["code"] == "revenue_precision"
    assert outcome["answer"]["detail"]["field"] == "revenue_amount"
    # A 4xx is final: one POST, no retries, nothing stored.
    assert [r.method for r in tab.conversion_requests()].count("POST") == 1
    assert acknowledged(collector, "conversions") == []
    assert tab.page_errors == []


def test_collector_unreachable_then_back_delivers_exactly_once(
    tab: Tab, collector: Collector, site: Site, link: dict
) -> None:
    follow_link(tab, collector, site, link)
    endpoint = f"{tab.wire.url}/api/conversions"
    attempts: list[dict] = []

    def unreachable_then_overloaded_then_back(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        attempts.append(json.loads(route.request.post_data or "null"))
        if len(attempts) == 1:
            route.abort("connectionrefused")
        elif len(attempts) == 2:
            route.fulfill(
                status=503,
                json={"detail": {"code": "storage_unavailable", "field": None, "message": "x"}},
                headers={"Access-Control-Allow-Origin": site.url},
            )
        else:
            route.continue_()

    tab.page.route(endpoint, unreachable_then_overloaded_then_back)
    answer = tab.page.evaluate("CampaignTracker.trackCourseEnrollment({revenue: '199.00'})")

    assert answer["status"] == "accepted", answer
    assert len(attempts) == 3
    assert {a["event_id"] for a in attempts} == {answer["event_id"]}  # one id, every try
    rows = acknowledged(collector, "conversions")
    assert [(r["event_id"], r["revenue_amount"]) for r in rows] == [
        (answer["event_id"], Decimal("199.00"))
    ]
    assert tab.page_errors == []


def test_event_sent_right_before_leaving_the_page_still_arrives(
    tab: Tab, collector: Collector, site: Site, link: dict
) -> None:
    tracking_id = follow_link(tab, collector, site, link)
    tab.page.click("#to-checkout")
    tab.page.wait_for_url(f"{site.url}/checkout.html")
    # A slow collector: the purchase is held on the wire until the page is gone, so it
    # arrives only if the browser keeps the request alive past the page (keepalive).
    endpoint = f"{tab.wire.url}/api/conversions"
    held: list[Route] = []
    tab.page.route(
        endpoint,
        lambda route: held.append(route) if route.request.method == "POST" else route.continue_(),
    )

    tab.page.click("#buy-and-leave")  # trackPurchase(...), then location.href at once
    tab.page.wait_for_url(f"{site.url}/bye.html")
    [request] = held  # it went out before the page did
    request.continue_()
    tab.wire.wait_for_answer("POST", "/api/conversions", 202)

    rows = acknowledged(collector, "conversions")
    assert [(r["tracking_id"], r["order_id"], r["revenue_amount"]) for r in rows] == [
        (tracking_id, "leave-1", Decimal("25.00"))
    ]
    assert tab.page_errors == []


def test_leaving_while_a_retry_waits_hands_the_event_to_send_beacon(
    tab: Tab, collector: Collector, site: Site, link: dict
) -> None:
    tracking_id = follow_link(tab, collector, site, link)
    endpoint = f"{tab.wire.url}/api/conversions"
    tab.page.route(
        endpoint,
        lambda route: (
            route.abort("connectionrefused")
            if route.request.method == "POST"
            else route.continue_()
        ),
    )
    with tab.page.expect_event("requestfailed", lambda r: r.url == endpoint):
        tab.page.evaluate("void CampaignTracker.trackNewsletterSignup({eventData: {list: 'w'}})")
    # One turn of the page's event loop: the tracker has seen the failure and is waiting.
    tab.page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 0))")
    tab.page.unroute(endpoint)

    tab.page.goto(f"{site.url}/bye.html")  # pagehide, during the tracker's backoff
    tab.wire.wait_for_answer("POST", "/api/conversions", 202)

    rows = acknowledged(collector, "conversions")
    assert [(r["tracking_id"], r["event_type"]) for r in rows] == [
        (tracking_id, "newsletter_signup")
    ]
    assert json.loads(rows[0]["event_data"]) == {"list": "w"}
