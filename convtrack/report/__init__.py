"""The HTML report: one self-contained file from the published snapshot (docs/report.md).

Sits between the collector / orchestration and `convtrack.core`: the CLI, the Dagster
asset and the collector's `GET /report` all write or serve what this package makes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from convtrack.core.files import ensure_dir, write_bytes_atomically
from convtrack.core.settings import Settings
from convtrack.report.data import ReportOptionError, SnapshotMissing, load

__all__ = ["LATEST_NAME", "ReportOptionError", "SnapshotMissing", "report_path", "write_report"]

# The name the pipeline's report goes by in data/reports/, and what GET /report serves.
LATEST_NAME = "latest.html"


def reports_dir(settings: Settings) -> Path:
    return settings.data_dir / "reports"


def report_path(settings: Settings) -> Path:
    """Where the pipeline keeps the latest report (and the collector finds it)."""
    return reports_dir(settings) / LATEST_NAME


def write_report(
    settings: Settings,
    out: Path | None = None,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    video: str | None = None,
    now: dt.datetime | None = None,
) -> Path:
    """Write the report of the published snapshot to `out` (default: data/reports/
    latest.html), atomically; its path. The headline period is start..end, by default
    the attribution window's days up to the snapshot's as-of day."""
    # Here, not at the top: Altair takes half a second to import, and the collector
    # imports this package for `report_path` alone.
    from convtrack.report.render import render

    data = load(
        settings.published_path,
        start=start,
        end=end,
        video=video,
        default_days=settings.attribution_window_days,
    )
    html = render(
        data,
        currency=settings.currency,
        reporting_timezone=settings.reporting_timezone,
        window_days=settings.attribution_window_days,
        generated_at=now or dt.datetime.now(dt.UTC),
        cache_dir=reports_dir(settings) / ".cache",
    )
    chosen = out is not None
    out = out or report_path(settings)
    try:
        ensure_dir(out.parent)
        write_bytes_atomically(html.encode(), out)
    except OSError as exc:
        if not chosen:
            raise
        # A path the caller chose may be anywhere: one the OS refuses is a bad option.
        raise ReportOptionError(
            "--out", f"cannot write {str(out)!r}: {exc.strerror or exc}"
        ) from None
    return out
