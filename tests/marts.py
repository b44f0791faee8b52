"""The mart tables, as publishing knows them: every dbt model in the `marts` schema.

Taken from the dbt manifest through `orchestration.assets.publish.MART_ASSET_KEYS` (the
assets the published snapshot depends on), so a new mart is snapshotted, compared and
checked by the tests without editing a list here.
"""

from __future__ import annotations

from orchestration.assets.publish import MART_ASSET_KEYS

# Describes the run (run id, build time, retained_since), not the data: compared apart.
RUN_METADATA = "_meta"
# Retention removes rows from these by design (docs/rules.md#retention); every other mart
# must give the same answers after a prune.
ROW_LEVEL_MARTS = frozenset(
    {"fct_clicks", "fct_conversions", "fct_unattributed_conversions", "mart_attribution"}
)


def mart_tables() -> list[str]:
    """Every table of the published snapshot, sorted, `_meta` included."""
    return sorted(key.path[-1] for key in MART_ASSET_KEYS)


def data_marts() -> list[str]:
    """The marts that describe the data: every table but the run's metadata."""
    return [table for table in mart_tables() if table != RUN_METADATA]


def lifetime_marts() -> list[str]:
    """The marts a prune must not change: every data mart that is not row-level."""
    return [table for table in data_marts() if table not in ROW_LEVEL_MARTS]
