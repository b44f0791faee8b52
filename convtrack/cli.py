"""The `convtrack` command line (docs/operations.md)."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import httpx
import typer
from pydantic import ValidationError

from convtrack.core.settings import METRICS_SHARED_DIR_ENV, Settings, configuration_problems

app = typer.Typer(
    help="convtrack: credit conversions and revenue to the campaign links that brought them.",
    no_args_is_help=True,
    add_completion=False,
)
links_app = typer.Typer(help="Campaign links.", no_args_is_help=True)
pipeline_app = typer.Typer(help="The Dagster pipeline, run headless.", no_args_is_help=True)
app.add_typer(links_app, name="links")
app.add_typer(pipeline_app, name="pipeline")


def _settings() -> Settings:
    """The CONVTRACK_* settings; a bad one ends the command (exit 2) with a line per problem."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = configuration_problems(exc)
        typer.secho(
            "configuration error" + ("s:" if len(problems) > 1 else ":"), fg="red", err=True
        )
        for problem in problems:
            typer.secho(f"  {problem}", fg="red", err=True)
        raise typer.Exit(2) from None


def _parse_day(value: str | None, option: str = "--as-of") -> dt.date:
    """A day option: from the pipeline's first day to today (UTC), today by default."""
    from convtrack.core.raw_schema import FIRST_DAY

    today = dt.datetime.now(dt.UTC).date()
    if value is None:
        return today
    try:
        day = dt.date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"expected a date like 2026-03-01, got {value!r}", param_hint=option
        ) from exc
    # The daily partitions end today; a prune as of a later day would remove kept rows.
    if not FIRST_DAY <= day <= today:
        raise typer.BadParameter(
            f"must be between {FIRST_DAY} and today, {today} (UTC)", param_hint=option
        )
    return day


# Each worker is a full Python process with its own log; far more than the cores only
# adds contention (bench/README.md), and a typo must not start a million processes.
MAX_WORKERS = 64


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Worker processes, each with its own writer id and log "
            "(default: the cores available to this process).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the collector (uvicorn)."""
    import uvicorn

    settings = _settings()  # fail early, with a readable message, on bad configuration
    count = available_cores() if workers is None else workers
    if not 1 <= count <= MAX_WORKERS:
        raise typer.BadParameter(
            f"must be at least 1 and at most {MAX_WORKERS} (got {count}); leave it out "
            "for one worker per core",
            param_hint="--workers",
        )
    if count == 1:
        # Before prometheus_client is imported: it picks its mode from this variable
        # once, and a one-process server keeps its metrics in memory.
        os.environ.pop(METRICS_SHARED_DIR_ENV, None)
    from collector.observability import access_log_config, prepare_multiprocess_metrics

    if count > 1:
        # Each worker counts in files of its own there; /metrics adds them up
        # (docs/operations.md#workers). Set before uvicorn starts the workers, which
        # inherit it.
        os.environ[METRICS_SHARED_DIR_ENV] = str(prepare_multiprocess_metrics(settings.metrics_dir))
    # uvicorn's own access log prints the full client address: ours replaces it.
    uvicorn.run(
        "collector.app:create_app",
        factory=True,
        host=host,
        port=port,
        # One process with the app in it, or a supervisor starting `count` of them on
        # one shared socket: the kernel spreads connections over them.
        workers=count if count > 1 else None,
        log_level="info",
        access_log=False,
        log_config=access_log_config(),
        # X-Forwarded-For is the app's business, from CONVTRACK_FORWARDED_ALLOW_IPS only
        # (collector/proxy.py); uvicorn would otherwise believe it from loopback.
        proxy_headers=False,
    )


@links_app.command("create")
def links_create(
    short_code: Annotated[str, typer.Option("--short-code", help="The code in /c/{code}.")],
    destination: Annotated[str, typer.Option(help="Landing page URL.")],
    campaign: Annotated[str | None, typer.Option(help="Campaign name.")] = None,
    video_id: Annotated[str | None, typer.Option("--video-id", help="YouTube video id.")] = None,
    placement: Annotated[str | None, typer.Option(help="Where the link sits.")] = None,
    window_days: Annotated[
        int | None,
        typer.Option(
            "--attribution-window-days",
            help="The link's own attribution window in days (default: the default window).",
        ),
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="Collector base URL (default: CONVTRACK_PUBLIC_URL).")
    ] = None,
) -> None:
    """Register a campaign link with the running collector; print it as JSON."""
    settings = _settings()
    if settings.admin_token is None:
        typer.secho("CONVTRACK_ADMIN_TOKEN is not set: the collector needs it", fg="red", err=True)
        raise typer.Exit(2)
    body = {
        "short_code": short_code,
        "destination_url": destination,
        "campaign_name": campaign,
        "youtube_video_id": video_id,
        "placement": placement,
    }
    if window_days is not None:  # bounds are the collector's (docs/api.md#limits)
        body["attribution_window_days"] = window_days
    base = (url or settings.public_url).rstrip("/")
    try:
        resp = httpx.post(
            f"{base}/api/campaign-links",
            json=body,
            headers={"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        typer.secho(f"cannot reach the collector at {base}: {exc}", fg="red", err=True)
        raise typer.Exit(1) from exc
    if resp.status_code >= 400:
        typer.secho(f"{resp.status_code}: {resp.text}", fg="red", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(resp.json(), indent=2))


@app.command("import")
def import_(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="JSON lines or Parquet.")
    ],
    stream: Annotated[
        str | None,
        typer.Option(
            help="clicks, conversions or refunds (default: told by the columns: clicked_at, "
            "converted_at, refunded_at)."
        ),
    ] = None,
) -> None:
    """Import historical clicks, conversions or refunds, with their own timestamps."""
    from collector.ingest.importer import IMPORTABLE, import_file

    if stream is not None and stream not in IMPORTABLE:
        raise typer.BadParameter("--stream must be " + ", ".join(map(repr, IMPORTABLE)))
    settings = _settings()
    try:
        result = import_file(file, stream=stream, settings=settings)
    except ValueError as exc:
        typer.secho(f"cannot import {file}: {exc}", fg="red", err=True)
        raise typer.Exit(1) from exc
    typer.echo(result.summary())
    if result.rejected:
        raise typer.Exit(3)


@pipeline_app.command("run")
def pipeline_run(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Last day to build (default: today, UTC).")
    ] = None,
) -> None:
    """Materialise every day with raw data up to --as-of in one run, then publish."""
    settings = _settings()
    day = _parse_day(as_of)
    from convtrack.core.raw_partitions import scan_raw_partitions
    from orchestration.run import run_pipeline

    raw = scan_raw_partitions(settings.raw_dir, day)
    for entry in raw.set_aside:
        typer.secho(f"warning: set aside, not built: {entry}", fg="yellow", err=True)
    run = run_pipeline(settings, day, raw=raw)
    if run is None:
        typer.echo(f"no raw data on or before {day} in {settings.raw_dir}: nothing to build")
        return
    if not run.success:
        typer.secho(f"pipeline run {run.run_id} failed (see the log above)", fg="red", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"pipeline run {run.run_id} built {run.first_day} .. {run.last_day}; "
        f"snapshot: {settings.published_path}"
    )


def _local_warehouse(settings: Settings) -> Path | None:
    """What on this machine shows that the pipeline built a warehouse: the DuckDB file, or
    the catalogue of Spark in dbt's own process; None through a Thrift server, whose
    catalogue is the server's (docs/operations.md#engines)."""
    from orchestration.build_range import dbt_target

    target = dbt_target(settings)
    if target == "spark_thrift":
        return None
    return settings.spark_dir / "metastore_db" if target == "spark" else settings.warehouse_path


@pipeline_app.command("prune")
def pipeline_prune(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Apply retention as of this day (default: today).")
    ] = None,
) -> None:
    """Remove row-level data past RETENTION_DAYS (warehouse and data/raw), then republish."""
    settings = _settings()
    day = _parse_day(as_of)
    warehouse = _local_warehouse(settings)
    if warehouse is not None and not warehouse.exists():
        typer.secho(f"no warehouse at {warehouse}: run the pipeline first", err=True)
        raise typer.Exit(1)
    from orchestration.run import run_prune

    run = run_prune(settings, day)
    if not run.success:
        typer.secho(f"prune run {run.run_id} failed (see the log above)", fg="red", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"prune run {run.run_id}: row-level data before {run.cutoff} removed "
        f"({settings.retention_days} days kept); snapshot republished"
    )


@app.command()
def report(
    out: Annotated[
        Path | None,
        typer.Option(dir_okay=False, help="Where to write it (default: data/reports/latest.html)."),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option("--from", help="First day of the headline period (default: a window back)."),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="Last day of the headline period (default: the as-of day)."),
    ] = None,
    video: Annotated[
        str | None, typer.Option("--video", help="Only this YouTube video's links.")
    ] = None,
) -> None:
    """Write the self-contained HTML report of the published snapshot; print its path."""
    from convtrack.report import ReportOptionError, SnapshotMissing, write_report

    settings = _settings()
    first = _parse_day(start, "--from") if start is not None else None
    last = _parse_day(end, "--to") if end is not None else None
    try:
        path = write_report(settings, out, start=first, end=last, video=video)
    except ReportOptionError as exc:
        raise typer.BadParameter(str(exc), param_hint=exc.option) from None
    except SnapshotMissing as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from None
    # The path as the OS spells it: a name of undecodable bytes is no UTF-8 text.
    typer.echo(os.fsencode(path))


@app.command()
def demo() -> None:
    """The main job: a realistic 60-day story, end to end, on this machine."""
    from convtrack.demo import run_demo

    sys.exit(run_demo(_settings()))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
