"""A real Chromium (Debian's, through Playwright) and a landing site on its own origin.

The site is served from 127.0.0.1 on another port than the collector, so the browser
treats the tracker's calls as cross-origin and the collector's CORS answers count.
"""

from __future__ import annotations

import functools
import http.server
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, sync_playwright

from convtrack.raw_schema import SCHEMAS
from tests.conftest import Collector

T = TypeVar("T")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<script src="{collector}/api/conversions/script"></script></head>
<body><h1>{title}</h1>{body}</body></html>
"""
PAGES = {
    "landing.html": PAGE.replace("{body}", '<a id="to-checkout" href="/checkout.html">Buy</a>'),
    "checkout.html": PAGE.replace(
        "{body}",
        # The host page's own code: report the purchase, then leave at once.
        """<button id="buy-and-leave" onclick="
          CampaignTracker.trackPurchase(25, {orderId: 'leave-1'});
          location.href = '/bye.html';">Pay</button>""",
    ),
    "bye.html": "<!doctype html><title>Thanks</title><h1>Thanks</h1>",
}


@dataclass
class Site:
    """The creator's landing site: `url` is its origin."""

    url: str


@dataclass
class Tab:
    """A page in a fresh browser context, with what the host page would notice."""

    page: Page
    collector: Collector
    warnings: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)

    def conversion_requests(self) -> list[Request]:
        endpoint = f"{self.collector.base_url}/api/conversions"
        return [r for r in self.requests if r.url == endpoint]


def raw_rows(data_dir: Path, stream: str) -> list[dict]:
    """Every row of a raw stream the collector has acknowledged (Parquet on disk)."""
    files = sorted((data_dir / "raw" / stream).glob("dt=*/*.parquet"))
    if not files:
        return []
    return pa.concat_tables(pq.read_table(f, schema=SCHEMAS[stream]) for f in files).to_pylist()


def wait_until(probe: Callable[[], T], *, timeout_s: float = 15, what: str) -> T:
    """Poll `probe` until it returns something truthy; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not (result := probe()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)
    return result


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def site(tmp_path: Path, collector: Collector) -> Iterator[Site]:
    root = tmp_path / "site"
    root.mkdir()
    for name, template in PAGES.items():
        title = name.removesuffix(".html").title()
        page = template.replace("{title}", title).replace("{collector}", collector.base_url)
        (root / name).write_text(page)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Site(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.shutdown()
    server.server_close()


@pytest.fixture
def link(collector: Collector, site: Site) -> dict:
    """A campaign link landing on the site (its destination origin is what CORS allows)."""
    with collector.admin() as admin:
        resp = admin.post(
            "/api/campaign-links",
            json={
                "short_code": "desk-setup",
                "destination_url": f"{site.url}/landing.html?utm_source=youtube",
                "campaign_name": "Desk setup",
                "youtube_video_id": "dQw4w9WgXcQ",
                "placement": "description",
            },
        )
    assert resp.status_code == 201, resp.text
    return resp.json()


@pytest.fixture
def tab(browser: Browser, collector: Collector) -> Iterator[Tab]:
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    tab = Tab(page=page, collector=collector)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "warning":
            tab.warnings.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: tab.page_errors.append(str(error)))
    page.on("request", lambda request: tab.requests.append(request))
    yield tab
    context.close()
