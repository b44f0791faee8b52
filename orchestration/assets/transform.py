"""The dbt models as Dagster assets: staging, intermediate and marts, built by `dbt build`."""

from collections.abc import Mapping
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetMaterialization, Failure, Output
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from orchestration.assets.ingest import (
    clear_pending_build,
    clear_spark_pending_build,
    mark_spark_pending_build,
    pending_build_since,
    spark_raw_sources,
)
from orchestration.build_range import BuildRange, dbt_run_env
from orchestration.dbt_env import dbt_environment, keep_partial_parse
from orchestration.project import dbt_project
from orchestration.resources import ConvtrackSettings, WarehouseWriterLock, connect_duckdb


class ConvtrackTranslator(DagsterDbtTranslator):
    """dbt sources are the raw load assets; models are grouped by their folder."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey(["raw", dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn") or []
        return fqn[1] if len(fqn) > 2 else "dbt"


def failed_nodes(run_results: Mapping[str, Any]) -> list[str]:
    """One line per dbt node that failed or errored: its name and dbt's message."""
    return [
        f"{r['unique_id']}: {r['status']}: {(r.get('message') or '').strip()}"
        for r in run_results.get("results", [])
        if r.get("status") in ("fail", "error")
    ]


def unreported_models(run_results: Mapping[str, Any], reported: set[str]) -> list[str]:
    """The models dbt built that its event log never reported, by unique id.

    Dagster learns what dbt built from dbt's JSON log lines; a line broken by something
    else writing to the same stream (Spark's console progress bars did) loses that
    model's materialisation, and the publish, downstream of every mart, is then skipped
    while the run succeeds. run_results.json is written by dbt itself, whole."""
    return sorted(
        r["unique_id"]
        for r in run_results.get("results", [])
        if r["unique_id"].startswith("model.")
        and r.get("status") == "success"
        and r["unique_id"] not in reported
    )


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    # dbt's data tests run inside `dbt build` and fail it; they are not Dagster asset
    # checks: each check costs two events in the run storage (planned, evaluated), 180
    # per run, which was most of a small run's time (docs/operations.md#running-the-pipeline).
    dagster_dbt_translator=ConvtrackTranslator(
        settings=DagsterDbtTranslatorSettings(enable_asset_checks=False)
    ),
)
def convtrack_dbt_models(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    convtrack: ConvtrackSettings,
    warehouse_lock: WarehouseWriterLock,
    build_range: BuildRange,
):
    """`dbt build` of every model and data test, as of the last day of the run's range.

    The dbt unit tests check the models' code, not the data: `make test` runs them, a
    pipeline run does not."""
    settings = convtrack.load()
    first_day, last_day = build_range.days(settings)
    spark = settings.engine == "spark"
    if spark:
        # Spark reads data/raw where it lies: a build is pending from when it starts.
        start = mark_spark_pending_build(settings.spark_dir, first_day)
        raw_sources = spark_raw_sources(settings.raw_dir, last_day)
    else:
        with connect_duckdb(settings, settings.warehouse_path) as con:
            pending = pending_build_since(con)
        start, raw_sources = min(first_day, pending or first_day), None
    if start < first_day:
        context.log.info(f"an earlier run's build from {start} did not finish: building from it")
    env = dbt_run_env(
        settings,
        start_date=start,
        as_of=last_day,
        run_id=context.run.run_id,
        spark_raw_sources=raw_sources,
    )
    with dbt_environment(settings, env):  # the subprocess starts here, inheriting it
        invocation = dbt.cli(
            ["build", "--exclude-resource-type", "unit_test"], context=context, raise_on_error=False
        )
    reported: set[str] = set()
    for event in invocation.stream():
        if isinstance(event, Output):
            reported.add(str(event.metadata["unique_id"].value))
        # dagster-dbt reports each test as an observation of the assets it read (or a
        # check result for a source's test): one stored event each, per run. A failing
        # test fails the build instead, named in the Failure below.
        if isinstance(event, Output | AssetMaterialization):
            yield event
    keep_partial_parse(settings, invocation.target_path)
    if not invocation.is_successful():
        failed = failed_nodes(invocation.get_artifact("run_results.json"))
        raise Failure(
            description=f"dbt build failed ({len(failed)} failed): " + "; ".join(failed[:5]),
            metadata={"failed": "\n".join(failed), "dbt_log": str(invocation.target_path)},
        )
    if missing := unreported_models(invocation.get_artifact("run_results.json"), reported):
        raise Failure(
            description=(
                f"dbt built {len(missing)} models its log did not report, so they were "
                "not recorded and nothing would be published: " + ", ".join(missing[:5])
            ),
            metadata={"unreported": "\n".join(missing), "dbt_log": str(invocation.target_path)},
        )
    # Only after a build without error: nothing is pending.
    if spark:
        clear_spark_pending_build(settings.spark_dir)
    else:
        with connect_duckdb(settings, settings.warehouse_path) as con:
            clear_pending_build(con)
