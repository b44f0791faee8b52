"""Screenshots of a report for docs/report.md: desktop and phone width, through Debian's
Chromium as the browser tests drive it (offline: the page needs nothing).

    .venv/bin/python docs/report_screenshots.py data/reports/latest.html
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]
DOCS = Path(__file__).parent
WIDTHS = {"desktop": (1280, 900, 1), "phone": (390, 844, 2)}
DRAWN = "[...document.querySelectorAll('.chart')].every(c => c.dataset.rendered)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    report = parser.parse_args().report.resolve()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for name, (width, height, scale) in WIDTHS.items():
            context = browser.new_context(
                offline=True, viewport={"width": width, "height": height}, device_scale_factor=scale
            )
            page = context.new_page()
            page.goto(report.as_uri())
            page.wait_for_function(DRAWN)
            out = DOCS / f"report-{name}.png"
            page.screenshot(path=out, full_page=name == "desktop")
            print(out)
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
