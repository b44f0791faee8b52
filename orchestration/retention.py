"""Retention of row-level raw files (docs/rules.md#retention); the warehouse side is dbt's
`prune_row_level_data` macro, the one home of the rule."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from convtrack.core import raw_schema

# campaign_links is not row-level personal data and every version of a link matters.
PRUNED_STREAMS = ("clicks", "conversions")


def retention_cutoff(as_of: dt.date, retention_days: int) -> dt.date:
    """Rows whose click is before this day (00:00 UTC) are past retention."""
    return as_of - dt.timedelta(days=retention_days)


@dataclass
class RawPruneResult:
    cutoff: dt.date
    moved: list[Path] = field(default_factory=list)
    deleted: list[Path] = field(default_factory=list)


def prune_raw_partitions(
    raw_dir: Path, cutoff: dt.date, archive_dir: Path | None = None
) -> RawPruneResult:
    """Remove whole day partitions before `cutoff` of the row-level streams.

    A click's day partition is its click day, so every click in a partition before the
    cutoff is past retention. A conversion's partition is its conversion day, which is
    never before its click day (bar the 5-minute clock skew at midnight), so those are
    past retention too. Later partitions may still hold late conversions of pruned
    clicks: the warehouse marks them `click_pruned`. Moved to `archive_dir` when set,
    deleted otherwise.
    """
    result = RawPruneResult(cutoff)
    for stream in PRUNED_STREAMS:
        # Every day directory, empty ones included (a compaction or import may leave one).
        for src in sorted((raw_dir / stream).glob("dt=*")):
            day = raw_schema.partition_day(src.name)
            if day is None or day >= cutoff or not src.is_dir():
                continue  # within retention, or no day directory (the pipeline reports those)
            if archive_dir is not None:
                dst = raw_schema.partition_dir(archive_dir, stream, day)
                dst.parent.mkdir(parents=True, exist_ok=True)
                if dst.exists():  # archived before: add this partition's files to it
                    for f in src.iterdir():
                        shutil.move(str(f), dst / f.name)
                    src.rmdir()
                else:
                    shutil.move(str(src), dst)
                result.moved.append(dst)
            else:
                shutil.rmtree(src)
                result.deleted.append(src)
    return result
