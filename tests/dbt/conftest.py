"""One in-process dbt, parsed once, shared by the dbt suites."""

from __future__ import annotations

import pytest

from tests.dbt.runner import Dbt


@pytest.fixture(scope="session")
def dbt(tmp_path_factory) -> Dbt:
    return Dbt(tmp_path_factory.mktemp("dbt"))
