"""A real Chromium (Debian's, through Playwright) and a landing site on its own origin.

The site is served from 127.0.0.1 on another port than the collector, so the browser
treats the tracker's calls as cross-origin and the collector's CORS answers count.
The collector's PUBLIC_URL is a pass-through proxy (`Wire`): the tracker talks to the
collector through it, and a test can wait for the collector's answer even when the page
that asked is gone (Playwright no longer reports such requests).
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, sync_playwright

from convtrack.core.raw_schema import SCHEMAS
from tests.conftest import Collector, start_collector, stop_collector

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
    # A second landing page, for a second link: a visitor's path across the site.
    "offer.html": PAGE.replace("{body}", '<a id="to-checkout" href="/checkout.html">Buy</a>'),
}
# The same site with touches opted in to localStorage (docs/api.md#touch-paths).
LOCAL_PAGE = PAGE.replace("></script>", ' data-touch-storage="local"></script>', 1)
PAGES |= {
    "local/landing.html": LOCAL_PAGE.replace("{body}", ""),
    "local/checkout.html": LOCAL_PAGE.replace("{body}", ""),
}


@dataclass
class Site:
    """The creator's landing site: `url` is its origin."""

    url: str


# Headers that describe one connection, not the message: never forwarded.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "content-encoding",
    "host",
}


class Wire:
    """A pass-through HTTP proxy in front of the collector that records every answer."""

    def __init__(self) -> None:
        self.target = ""  # the collector's own URL, set once it runs
        self.answers: list[tuple[str, str, int]] = []  # (method, path, status)
        self._changed = threading.Condition()
        handler = functools.partial(_WireHandler, self)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def record(self, method: str, path: str, status: int) -> None:
        with self._changed:
            self.answers.append((method, path, status))
            self._changed.notify_all()

    def wait_for_answer(self, method: str, path: str, status: int, timeout_s: float = 15) -> None:
        """Block until the collector has answered `method path` with `status`."""
        with self._changed:
            if not self._changed.wait_for(
                lambda: (method, path, status) in self.answers, timeout=timeout_s
            ):
                pytest.fail(f"no {status} to {method} {path} in {timeout_s} s: {self.answers}")


class _WireHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def __init__(self, wire: Wire, *args: object) -> None:
        self.wire = wire
        super().__init__(*args)

    def forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        answer = httpx.request(
            self.command, self.wire.target + self.path, headers=headers, content=body, timeout=30
        )
        self.send_response(answer.status_code)
        for key, value in answer.headers.multi_items():
            if key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)
        self.wfile.flush()
        self.wire.record(self.command, self.path, answer.status_code)

    do_GET = do_POST = do_OPTIONS = forward

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Tab:
    """A page in a fresh browser context, with what the host page would notice."""

    page: Page
    wire: Wire
    warnings: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)

    def conversion_requests(self) -> list[Request]:
        endpoint = f"{self.wire.url}/api/conversions"
        return [r for r in self.requests if r.url == endpoint]


def raw_rows(data_dir: Path, stream: str) -> list[dict]:
    """Every row of a raw stream in Parquet on disk."""
    files = sorted((data_dir / "raw" / stream).glob("dt=*/*.parquet"))
    if not files:
        return []
    return pa.concat_tables(pq.read_table(f, schema=SCHEMAS[stream]) for f in files).to_pylist()


def acknowledged(collector: Collector, stream: str) -> list[dict]:
    """Every row the collector acknowledged: stopped gracefully, it has all in Parquet."""
    stop_collector(collector)  # the fixture's own stop is then a no-op
    return raw_rows(collector.data_dir, stream)


# Package scope, not session: Playwright's sync API runs an asyncio loop in this thread
# while it is open, which would break later tests that call asyncio.run().
@pytest.fixture(scope="package")
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
def wire() -> Iterator[Wire]:
    wire = Wire()
    thread = threading.Thread(target=wire.server.serve_forever, daemon=True)
    thread.start()
    yield wire
    wire.server.shutdown()
    wire.server.server_close()


@pytest.fixture
def collector(tmp_path: Path, wire: Wire) -> Iterator[Collector]:
    """The collector, published (PUBLIC_URL) at the wire's address."""
    c = start_collector(
        tmp_path / "data", tmp_path / "collector.log", CONVTRACK_PUBLIC_URL=wire.url
    )
    wire.target = c.base_url
    yield c
    stop_collector(c)


@pytest.fixture
def site(tmp_path: Path, wire: Wire) -> Iterator[Site]:
    root = tmp_path / "site"
    root.mkdir()
    for name, template in PAGES.items():
        title = name.removesuffix(".html").title()
        page = template.replace("{title}", title).replace("{collector}", wire.url)
        (root / name).parent.mkdir(exist_ok=True)
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
def tab(browser: Browser, wire: Wire) -> Iterator[Tab]:
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    tab = Tab(page=page, wire=wire)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "warning":
            tab.warnings.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: tab.page_errors.append(str(error)))
    page.on("request", lambda request: tab.requests.append(request))
    yield tab
    context.close()
