"""Schemathesis against /openapi.json, in process: no input makes the collector answer 5xx,
and every answer is one the schema declares, in the declared shape."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from collector.app import create_app
from convtrack.core.settings import Settings
from tests.collector.conftest import ADMIN, READER
from tests.collector.test_read_api import SNAPSHOT_SQL, publish

# Bounded so the whole run stays well under a minute.
EXAMPLES_PER_OPERATION = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api_schema(tmp_path: Path):
    # A published snapshot, so the read API answers from data rather than 503.
    collector_settings = Settings(
        data_dir=tmp_path / "data",
        admin_token=ADMIN,
        read_token=READER,
        rate_limit_per_ip=0,  # the fuzzer is one address sending thousands of requests
    )
    publish(collector_settings.published_path, SNAPSHOT_SQL)
    app = create_app(collector_settings)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    # The lifespan schemathesis started: flush and close the store before tmp_path goes.
    shutdown_lifespans()


def token_for(path: str) -> str:
    reads = (
        "/api/conversions/attribution",
        "/api/conversions/funnel",
        "/api/conversions/types",
        "/api/conversions/models",
    )
    return READER if path.startswith(reads) else ADMIN


def fuzz(operation) -> None:
    """Hypothesis over one operation's generated cases; raises on the first failing check."""

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(case=operation.as_strategy())
    def run(case) -> None:
        headers = {"Authorization": f"Bearer {token_for(case.operation.path)}"}
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


def test_no_server_errors_and_answers_match_the_schema(api_schema):
    # Looped here rather than with schemathesis.pytest.from_fixture, which fails on
    # pytest 9 ('Function' object has no attribute '_nodeid').
    failures = {}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 12
    # The refund intake is fuzzed too, with the admin token (which opens it).
    assert {"POST /api/refunds", "POST /api/refunds/batch"} <= {op.label for op in operations}
    for operation in operations:
        try:
            fuzz(operation)
        except Exception as exc:
            failures[operation.label] = exc
    assert not failures, "\n\n".join(f"{label}: {exc}" for label, exc in failures.items())
