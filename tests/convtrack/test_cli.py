"""The `convtrack` command line as a user meets it: help, refusals, exit codes, messages.

Exit codes: 0 done, 1 the work failed (unreachable collector, unreadable file), 2 the
command line or the configuration is wrong, 3 an import refused some rows.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from convtrack.cli import MAX_WORKERS, _local_warehouse, app
from convtrack.core.raw_schema import CAMPAIGN_LINKS, FIRST_DAY
from convtrack.core.settings import METRICS_SHARED_DIR_ENV, Settings

# Wide enough that rich's help boxes never wrap a phrase a test looks for.
WIDE = {"COLUMNS": "200"}


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """No CONVTRACK_* variable from the machine running the tests; data in tmp_path."""
    for name in list(os.environ):
        if name.startswith("CONVTRACK_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CONVTRACK_DATA_DIR", str(tmp_path / "data"))


def run(*args: str, **env: str):
    return CliRunner().invoke(app, list(args), env={**WIDE, **env})


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Help.


def test_without_a_command_the_help_lists_every_command() -> None:
    result = run()
    assert "credit conversions and revenue to the campaign links" in result.output
    for command in ("serve", "links", "import", "pipeline", "demo"):
        assert f" {command} " in result.output, command


@pytest.mark.parametrize(
    ("args", "phrases"),
    [
        (["serve", "--help"], ["Run the collector", "--host", "--port", "--workers"]),
        (
            ["links", "create", "--help"],
            ["Register a campaign link", "--short-code", "--destination", "CONVTRACK_PUBLIC_URL"],
        ),
        (
            ["import", "--help"],
            ["Import historical clicks, conversions or refunds", "JSON lines or Parquet"],
        ),
        (["pipeline", "--help"], ["run", "prune"]),
        (["pipeline", "run", "--help"], ["Materialise every day", "--as-of"]),
        (["pipeline", "prune", "--help"], ["RETENTION_DAYS", "--as-of"]),
        (["demo", "--help"], ["60-day story"]),
    ],
)
def test_every_command_explains_itself(args: list[str], phrases: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 0, result.output
    for phrase in phrases:
        assert phrase in result.output, phrase


# serve: the options reach uvicorn (the server itself runs in tests/collector).


@pytest.fixture
def uvicorn_runs(monkeypatch: pytest.MonkeyPatch, tmp_path) -> list[dict]:
    """What `serve` would run uvicorn with; the environment it changes is put back."""
    import uvicorn

    # setenv first: monkeypatch then knows the variable's state before, and restores it
    # (a bare delenv of an unset variable records nothing, and `serve` sets it).
    monkeypatch.setenv(METRICS_SHARED_DIR_ENV, "")
    monkeypatch.delenv(METRICS_SHARED_DIR_ENV)
    calls: list[dict] = []
    monkeypatch.setattr(
        uvicorn,
        "run",
        lambda app, **kw: calls.append(
            {"app": app, **kw, "metrics_dir": os.environ.get(METRICS_SHARED_DIR_ENV)}
        ),
    )
    return calls


def test_serve_runs_one_worker_per_available_core_by_default(uvicorn_runs, tmp_path) -> None:
    metrics = tmp_path / "data" / "run" / "metrics"
    # A server that is gone (no pid is above Linux's limit of 2**22) left its counts.
    stale = metrics / str(2**22 + 1) / "counter_1.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"counts of an earlier run")
    assert run("serve").exit_code == 0
    [call] = uvicorn_runs
    cores = len(os.sched_getaffinity(0))
    assert call["workers"] == (cores if cores > 1 else None)
    assert call["app"] == "collector.app:create_app" and call["factory"] is True
    assert call["proxy_headers"] is False and call["access_log"] is False
    if cores > 1:  # the workers share their metrics in a folder of this server's own
        assert call["metrics_dir"] == str(metrics / str(os.getpid()))
        assert list((metrics / str(os.getpid())).iterdir()) == []
        assert not stale.parent.exists()


@pytest.mark.parametrize(("workers", "expected"), [("1", None), ("3", 3)])
def test_serve_runs_the_workers_asked_for(uvicorn_runs, workers, expected) -> None:
    assert run("serve", "--workers", workers).exit_code == 0
    [call] = uvicorn_runs
    assert call["workers"] == expected
    # One process keeps its metrics in memory: no shared directory.
    assert (call["metrics_dir"] is None) == (expected is None)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(workers=st.one_of(st.integers(max_value=0), st.integers(min_value=MAX_WORKERS + 1)))
@example(workers=0)
@example(workers=-2)
@example(workers=MAX_WORKERS + 1)
@example(workers=10**6)
@example(workers=2**63)
def test_serve_refuses_worker_counts_out_of_bounds(uvicorn_runs, workers) -> None:
    result = run("serve", "--workers", str(workers))
    assert result.exit_code == 2
    assert "--workers" in result.output and "at least 1" in result.output
    assert uvicorn_runs == []


# Configuration: refused before any work, one readable line per problem, exit 2.


@pytest.mark.parametrize(
    "args",
    [
        ["serve"],
        ["links", "create", "--short-code", "x", "--destination", "https://e.com/"],
        ["pipeline", "run"],
        ["pipeline", "prune"],
        ["demo"],
    ],
)
def test_a_bad_configuration_is_printed_clearly_and_exits_2(args: list[str]) -> None:
    result = run(
        *args,
        CONVTRACK_REPORTING_TIMEZONE="Europe/Berln",
        CONVTRACK_PUBLIC_URL="go.example.com",
    )
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert lines == [
        "configuration errors:",
        "  CONVTRACK_PUBLIC_URL: 'go.example.com' does not start with http:// or https://; "
        "write the collector's absolute http(s) URL as seen from outside, "
        "e.g. https://go.example.com",
        "  CONVTRACK_REPORTING_TIMEZONE: 'Europe/Berln' is not an IANA time zone name such as "
        "UTC, Europe/Berlin or America/New_York (did you mean 'Europe/Berlin'?)",
    ]


def test_one_configuration_problem_reads_as_one() -> None:
    result = run("pipeline", "run", CONVTRACK_RETENTION_DAYS="3")
    assert result.exit_code == 2
    assert result.output.startswith("configuration error:\n  CONVTRACK_RETENTION_DAYS: 3 days")
    assert "Traceback" not in result.output


# links create


def test_links_create_without_an_admin_token_says_which_variable() -> None:
    result = run("links", "create", "--short-code", "launch", "--destination", "https://e.com/")
    assert result.exit_code == 2
    assert "CONVTRACK_ADMIN_TOKEN is not set" in result.output


def test_links_create_says_when_the_collector_cannot_be_reached() -> None:
    base = f"http://127.0.0.1:{closed_port()}"
    result = run(
        "links",
        "create",
        "--short-code",
        "launch",
        "--destination",
        "https://e.com/",
        "--url",
        base,
        CONVTRACK_ADMIN_TOKEN="secret",
    )
    assert result.exit_code == 1
    assert f"cannot reach the collector at {base}" in result.output
    assert "secret" not in result.output


def test_links_create_registers_with_the_running_collector_and_prints_the_link(collector):
    args = ["links", "create", "--short-code", "launch", "--destination", "https://e.com/"]
    options = ["--campaign", "Launch", "--url", collector.base_url]
    result = run(*args, *options, CONVTRACK_ADMIN_TOKEN=collector.admin_token)
    assert result.exit_code == 0, result.output
    link = json.loads(result.output)
    assert (link["short_code"], link["campaign_name"]) == ("launch", "Launch")
    assert link["short_url"].endswith("/c/launch")

    again = run(*args, *options, CONVTRACK_ADMIN_TOKEN=collector.admin_token)
    assert again.exit_code == 1
    assert again.output.startswith("409: ")
    assert "short_code_taken" in again.output


def test_links_create_sets_the_links_own_window(collector):
    args = ["links", "create", "--destination", "https://e.com/", "--url", collector.base_url]
    token = {"CONVTRACK_ADMIN_TOKEN": collector.admin_token}
    result = run(*args, "--short-code", "week", "--attribution-window-days", "7", **token)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["attribution_window_days"] == 7
    # Bounds are the collector's, named by its refusal.
    out = run(*args, "--short-code", "long", "--attribution-window-days", "91", **token)
    assert out.exit_code == 1
    assert out.output.startswith("422: ")
    assert "invalid_attribution_window" in out.output and "attribution_window_days" in out.output
    not_a_number = run(*args, "--short-code", "x", "--attribution-window-days", "a week", **token)
    assert not_a_number.exit_code == 2
    assert "--attribution-window-days" in not_a_number.output


def test_prune_refuses_a_retention_shorter_than_a_links_window(tmp_path) -> None:
    link_id = "0194f1c4-7b3a-7cde-8f00-1a2b3c4d5e6f"
    now = dt.datetime(2026, 3, 1)
    day = tmp_path / "data" / "raw" / "campaign_links" / "dt=2026-03-01"
    day.mkdir(parents=True)
    row = {
        "campaign_link_id": link_id,
        "short_code": "spring",
        "destination_url": "https://e.com/",
        "campaign_name": None,
        "youtube_video_id": None,
        "placement": None,
        "created_at": now,
        "disabled_at": None,
        "recorded_at": now,
        "attribution_window_days": 60,
    }
    pq.write_table(pa.Table.from_pylist([row], schema=CAMPAIGN_LINKS), day / "w-1.parquet")
    result = run("pipeline", "prune", CONVTRACK_RETENTION_DAYS="31")
    assert result.exit_code == 2
    assert "CONVTRACK_RETENTION_DAYS: 31 days is shorter than" in result.output
    assert f"campaign link 'spring' ({link_id}), window 60 days" in result.output
    assert "set 61 or more" in result.output


# pipeline --as-of


@pytest.mark.parametrize("command", ["run", "prune"])
@pytest.mark.parametrize("as_of", ["yesterday", "2026-02-30", "01/03/2026"])
def test_as_of_must_be_a_date(command: str, as_of: str) -> None:
    result = run("pipeline", command, "--as-of", as_of)
    assert result.exit_code == 2
    assert f"expected a date like 2026-03-01, got {as_of!r}" in result.output


def test_as_of_must_be_a_day_the_partitions_hold() -> None:
    result = run("pipeline", "prune", "--as-of", "2019-12-31")
    assert result.exit_code == 2
    assert f"must be between {FIRST_DAY} and today" in result.output


def test_prune_without_a_warehouse_says_to_run_the_pipeline_first(tmp_path) -> None:
    result = run("pipeline", "prune")
    assert result.exit_code == 1
    assert "no warehouse at" in result.output
    assert "run the pipeline first" in result.output


def test_only_a_warehouse_this_machine_holds_is_looked_for(tmp_path) -> None:
    duckdb_ = Settings(data_dir=tmp_path)
    session = Settings(data_dir=tmp_path, engine="spark")
    thrift = Settings(data_dir=tmp_path, engine="spark", spark_thrift="127.0.0.1:10000")
    assert _local_warehouse(duckdb_) == duckdb_.warehouse_path
    assert _local_warehouse(session) == tmp_path / "spark" / "metastore_db"
    # Through a Thrift server the catalogue is the server's: nothing here to look for.
    assert _local_warehouse(thrift) is None


# import


def test_import_of_a_missing_file_exits_2(tmp_path) -> None:
    result = run("import", str(tmp_path / "nowhere.jsonl"))
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_import_of_a_directory_exits_2(tmp_path) -> None:
    result = run("import", str(tmp_path))
    assert result.exit_code == 2
    assert "is a directory" in result.output


def test_import_of_an_unreadable_parquet_file_exits_1(tmp_path) -> None:
    path = tmp_path / "clicks.parquet"
    path.write_bytes(b"PAR1 but not really")
    result = run("import", str(path))
    assert result.exit_code == 1
    assert f"cannot import {path}: not a readable Parquet file" in result.output


def test_import_of_rows_whose_stream_cannot_be_told_exits_1(tmp_path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"tracking_id": "x"}\n')
    result = run("import", str(path))
    assert result.exit_code == 1
    assert "cannot tell whether this is clicks" in result.output


def test_import_refuses_an_unknown_stream(tmp_path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("{}\n")
    result = run("import", str(path), "--stream", "returns")
    assert result.exit_code == 2
    assert "--stream must be 'clicks', 'conversions', 'refunds'" in result.output


def test_import_of_refunds_told_by_refunded_at_lands_in_their_days(tmp_path) -> None:
    path = tmp_path / "refunds.jsonl"
    rows = [
        {"order_id": "A-1", "amount": "10.00", "refunded_at": "2026-03-02T23:30:00-01:00"},
        {"order_id": 1002, "amount": 5, "refunded_at": "2026-03-01T08:00:00Z", "reason": "late"},
        {"order_id": "A-3", "amount": "-1", "refunded_at": "2026-03-01T08:00:00Z"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run("import", str(path))
    assert result.exit_code == 3, result.output  # a row was refused
    assert "refunds: 2 accepted, 1 rejected" in result.output
    assert "row 3: amount_not_positive (amount)" in result.output
    raw = tmp_path / "data" / "raw" / "refunds"
    days = {p.parent.name: pq.read_table(p).to_pylist() for p in raw.glob("dt=*/*.parquet")}
    assert sorted(days) == ["dt=2026-03-01", "dt=2026-03-03"]
    (late,) = days["dt=2026-03-01"]
    assert (late["order_id"], str(late["amount"]), late["reason"], late["source"]) == (
        "1002",
        "5.00",
        "late",
        "import",
    )
    (first,) = days["dt=2026-03-03"]
    assert first["refunded_at"] == dt.datetime(2026, 3, 3, 0, 30)


def test_prune_on_spark_without_a_warehouse_says_to_build_first(tmp_path) -> None:
    result = run("pipeline", "prune", CONVTRACK_ENGINE="spark")
    assert result.exit_code == 1
    assert "metastore_db: run the pipeline first" in result.output, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--from", "2026-02-30"], "--from"),
        (["--to", "last week"], "--to"),
        (["--from", "2019-12-31"], "--from"),
        (["--from", "2026-03-02", "--to", "2026-03-01"], "--from"),
    ],
)
def test_report_dates_are_checked_naming_the_option(args: list[str], option: str) -> None:
    result = run("report", *args)
    assert result.exit_code == 2, result.output
    assert option in result.output


def test_report_without_a_snapshot_says_how_to_make_one(tmp_path) -> None:
    result = run("report", "--out", str(tmp_path / "r.html"))
    assert result.exit_code == 1
    assert "convtrack pipeline run" in result.output
    assert not (tmp_path / "r.html").exists()


def test_serve_leaves_no_metrics_dir_in_the_environment() -> None:
    """Runs after the serve tests above: later collectors must not inherit their dir."""
    assert METRICS_SHARED_DIR_ENV not in os.environ
