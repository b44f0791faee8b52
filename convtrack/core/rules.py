"""Business constants whose one home is the dbt project's vars.

The attribution window is a business rule that the warehouse (dbt) owns; the collector
needs it too, to refuse what it can decide alone. Rather than writing the number twice,
Python reads it from `dbt_project/dbt_project.yml`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


@cache
def dbt_vars() -> dict:
    """The `vars:` block of dbt_project.yml (read once; the file is code, not config)."""
    with open(DBT_PROJECT_DIR / "dbt_project.yml") as f:
        return dict(yaml.safe_load(f).get("vars") or {})


def default_attribution_window_days() -> int:
    return int(dbt_vars()["attribution_window_days"])


def clock_skew_minutes() -> int:
    return int(dbt_vars()["clock_skew_minutes"])
