"""Business constants whose one home is the dbt project's vars.

The attribution window is a business rule that the warehouse (dbt) owns; the collector
needs it too, to refuse what it can decide alone. Rather than writing the number twice,
Python reads it from `dbt_project/dbt_project.yml`.

The dbt project ships inside this package (`convtrack/core/dbt_project` is the
repository's `dbt_project/`, linked in a checkout and copied into a wheel), so it is found
the same way in a checkout, an editable install and a plain `pip install`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

DBT_PROJECT_DIR = Path(__file__).parent / "dbt_project"


@cache
def dbt_vars() -> dict:
    """The `vars:` block of dbt_project.yml (read once; the file is code, not config)."""
    with open(DBT_PROJECT_DIR / "dbt_project.yml") as f:
        return dict(yaml.safe_load(f).get("vars") or {})


def default_attribution_window_days() -> int:
    return int(dbt_vars()["attribution_window_days"])


def retention_floor_days(attribution_window_days: int) -> int:
    """The shortest retention allowed for this window, and the default one."""
    return attribution_window_days + int(dbt_vars()["retention_beyond_window_days"])


@dataclass(frozen=True, slots=True)
class LinkWindow:
    """A campaign link that carries its own attribution window (docs/rules.md#windows-per-link)."""

    campaign_link_id: str
    short_code: str
    days: int

    def __str__(self) -> str:
        return (
            f"campaign link {self.short_code!r} ({self.campaign_link_id}), window {self.days} days"
        )


def own_link_windows(raw_dir: Path) -> list[LinkWindow]:
    """Every link whose versions in the raw `campaign_links` files carry a window, with the
    longest of them, longest first. Files written before links had windows carry none."""
    longest: dict[str, LinkWindow] = {}
    columns = ["campaign_link_id", "short_code", "attribution_window_days"]
    for path in sorted((Path(raw_dir) / "campaign_links").glob("dt=*/*.parquet")):
        try:
            if "attribution_window_days" not in pq.read_schema(path).names:
                continue
            table = pq.read_table(path, columns=columns)
        except (OSError, pa.ArrowException):
            continue  # unreadable: the links loader is the one to report it
        for row in table.to_pylist():
            days, link_id = row["attribution_window_days"], row["campaign_link_id"]
            if days is not None and (link_id not in longest or longest[link_id].days < days):
                longest[link_id] = LinkWindow(link_id, row["short_code"], int(days))
    return sorted(longest.values(), key=lambda w: (-w.days, w.short_code))


def longest_window_days(default_window_days: int, raw_dir: Path) -> int:
    """The longest attribution window in use: the default, or a link's own when longer."""
    return max([default_window_days] + [w.days for w in own_link_windows(raw_dir)])


def retention_shortfall(
    retention_days: int, default_window_days: int, link_windows: list[LinkWindow]
) -> tuple[int, str] | None:
    """(the floor, what sets it) when `retention_days` is shorter than the longest window in
    use + retention_beyond_window_days; None when it is long enough."""
    needs = [(retention_floor_days(w.days), str(w)) for w in link_windows]
    needs.append(
        (
            retention_floor_days(default_window_days),
            f"the default window {default_window_days} days",
        )
    )
    floor, what = max(needs, key=lambda need: need[0])
    return None if retention_days >= floor else (floor, what)
