"""The dbt models as Dagster assets: staging, intermediate and marts, built by `dbt build`."""

import json
from collections.abc import Mapping
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    Output,
)
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from orchestration.dbt_env import point_dbt_at
from orchestration.partitions import daily_partitions, dbt_build_vars, single_run, window_days
from orchestration.project import dbt_project
from orchestration.resources import ConvtrackSettings, WarehouseWriterLock


class ConvtrackTranslator(DagsterDbtTranslator):
    """dbt sources are the raw load assets; models are grouped by their folder."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey(["raw", dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn") or []
        return fqn[1] if len(fqn) > 2 else "dbt"


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    # dbt tests become asset checks, the raw sources' tests included.
    dagster_dbt_translator=ConvtrackTranslator(
        settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True)
    ),
    partitions_def=daily_partitions,
    backfill_policy=single_run,
)
def convtrack_dbt_models(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    convtrack: ConvtrackSettings,
    warehouse_lock: WarehouseWriterLock,
):
    """`dbt build` of every model and test, as of the last day of the run's range."""
    settings = convtrack.load()
    first_day, last_day = window_days(context.partition_time_window)
    build_vars = dbt_build_vars(
        first_day=first_day,
        last_day=last_day,
        run_id=context.run.run_id,
        attribution_window_days=settings.attribution_window_days,
        reporting_timezone=settings.reporting_timezone,
    )
    point_dbt_at(settings)
    invocation = dbt.cli(["build", "--vars", json.dumps(build_vars)], context=context)
    total = len(context.selected_asset_keys)
    done = 0
    for event in invocation.stream():
        # Progress a person can follow: one line per model built, one per failed check.
        if isinstance(event, Output | AssetMaterialization):
            done += 1
            name = (
                event.output_name if isinstance(event, Output) else event.asset_key.to_user_string()
            )
            context.log.info(f"dbt: built {name} ({done}/{total})")
        elif isinstance(event, AssetCheckResult) and not event.passed:
            context.log.warning(f"dbt test failed: {event.check_name} on {event.asset_key}")
        yield event
