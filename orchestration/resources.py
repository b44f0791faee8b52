"""Dagster resources: convtrack settings, read when a run starts (never at import)."""

from __future__ import annotations

from dagster import ConfigurableResource

from convtrack.settings import Settings


class ConvtrackSettings(ConfigurableResource):
    """CONVTRACK_* settings for a run; `data_dir` overrides the environment (tests)."""

    data_dir: str | None = None

    def load(self) -> Settings:
        if self.data_dir is not None:
            return Settings(data_dir=self.data_dir)
        return Settings()
