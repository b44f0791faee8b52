"""The raw day partitions a run can load, and the ones it sets aside.

The pipeline's daily partitions run from `raw_schema.FIRST_DAY` to today. A raw
directory outside them (a `dt=1999-01-01` or `dt=9999-12-31` written before imports were
bounded, a `dt=garbage`, a stray file) is no reason to stop building, nor to walk every
calendar day up to it: it is reported and left where it is, never loaded, never deleted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from convtrack.core import raw_schema


@dataclass(frozen=True, slots=True)
class SetAside:
    """A raw directory entry no run will load, and why."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class RawPartitions:
    """Per stream, the days in [FIRST_DAY, last_day] that hold Parquet files; the rest."""

    last_day: dt.date
    days: dict[str, dict[dt.date, Path]] = field(default_factory=dict)
    set_aside: list[SetAside] = field(default_factory=list)

    @property
    def first_day(self) -> dt.date | None:
        found = [day for by_day in self.days.values() for day in by_day]
        return min(found) if found else None

    def stream_days(self, stream: str) -> dict[dt.date, Path]:
        return self.days.get(stream, {})


def scan_raw_partitions(
    raw_dir: Path, last_day: dt.date, streams: Iterable[str] = raw_schema.STREAMS
) -> RawPartitions:
    """One listing of each stream's directory (never a walk over the calendar)."""
    scan = RawPartitions(last_day)
    for stream in streams:
        root = Path(raw_dir) / stream
        if not root.is_dir():
            continue
        days: dict[dt.date, Path] = {}
        for entry in sorted(root.iterdir()):
            if entry.name.startswith("."):
                continue  # a writer's temp file, invisible by design
            day = raw_schema.partition_day(entry.name)
            if day is None or not entry.is_dir():
                scan.set_aside.append(SetAside(entry, "not a dt=YYYY-MM-DD day directory"))
            elif not any(entry.glob("*.parquet")):
                continue  # an empty day (a compaction or an import may leave one)
            elif day < raw_schema.FIRST_DAY:
                scan.set_aside.append(
                    SetAside(entry, f"before {raw_schema.FIRST_DAY}, the pipeline's first day")
                )
            elif day > last_day:
                scan.set_aside.append(SetAside(entry, f"after {last_day}, the run's last day"))
            else:
                days[day] = entry
        scan.days[stream] = days
    return scan
