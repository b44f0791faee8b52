"""Business constants whose one home is the dbt project's vars.

The attribution window is a business rule that the warehouse (dbt) owns; the collector
needs it too, to refuse what it can decide alone. Rather than writing the number twice,
Python reads it from `dbt_project/dbt_project.yml`.

The dbt project ships inside this package (`convtrack/core/dbt_project` is the
repository's `dbt_project/`, linked in a checkout and copied into a wheel), so it is found
the same way in a checkout, an editable install and a plain `pip install`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

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
