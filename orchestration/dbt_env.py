"""How a dbt subprocess finds this run's warehouse."""

import os

from convtrack.core.settings import Settings


def point_dbt_at(settings: Settings) -> None:
    """profiles.yml finds the warehouse through CONVTRACK_DATA_DIR; dbt runs as a
    subprocess inheriting our environment, and must see the same data dir as this run."""
    os.environ["CONVTRACK_DATA_DIR"] = str(settings.data_dir.resolve())
