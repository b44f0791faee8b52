"""Published snapshots for the report's tests, built once per session."""

from __future__ import annotations

import pytest

from convtrack.core.settings import Settings
from tests.report_snapshot import Story, build, story


@pytest.fixture(scope="session")
def scenario() -> Story:
    return story()


@pytest.fixture(scope="session")
def built(tmp_path_factory, scenario: Story) -> Settings:
    with pytest.MonkeyPatch.context() as env:
        return build(tmp_path_factory.mktemp("report") / "data", scenario, env)


@pytest.fixture(scope="session")
def built_empty(tmp_path_factory) -> Settings:
    with pytest.MonkeyPatch.context() as env:
        return build(tmp_path_factory.mktemp("report-empty") / "data", None, env)
