"""The convtrack code location: assembles assets, resources, jobs, schedules and sensors."""

from datetime import timedelta

from dagster import (
    AssetSelection,
    Definitions,
    FreshnessPolicy,
    define_asset_job,
    in_process_executor,
)

from orchestration.assets.ingest import raw_assets
from orchestration.assets.publish import MART_ASSET_KEYS, published_snapshot
from orchestration.assets.report import report
from orchestration.assets.transform import convtrack_dbt_models
from orchestration.build_range import RESOURCE_KEY, BuildRange
from orchestration.maintenance import compaction, prune
from orchestration.project import dbt_executable, dbt_project
from orchestration.resources import ConvtrackSettings, DbtCli, WarehouseWriterLock
from orchestration.schedules import daily_compaction, daily_prune, hourly_build
from orchestration.sensors import cleanup_requests, new_raw_partitions

pipeline_job = define_asset_job(
    "pipeline",
    selection=AssetSelection.all(),
    # One process for the whole run: the warehouse lock (a resource) spans every step,
    # and each extra process would pay seconds of imports.
    executor_def=in_process_executor,
    tags={"convtrack/writes": "warehouse"},
    description="Load raw days, build every dbt model and test, publish the snapshot and the report.",
)

# The marts are rebuilt hourly; a day without a successful build is an incident.
mart_freshness = FreshnessPolicy.time_window(
    fail_window=timedelta(hours=26), warn_window=timedelta(hours=3)
)

convtrack = ConvtrackSettings()
defs = Definitions(
    assets=[
        *raw_assets,
        convtrack_dbt_models.map_asset_specs(
            lambda spec: (
                spec.replace_attributes(freshness_policy=mart_freshness)
                if spec.key in MART_ASSET_KEYS
                else spec
            )
        ),
        published_snapshot,
        report,
    ],
    jobs=[pipeline_job, prune, compaction],
    schedules=[hourly_build, daily_prune, daily_compaction],
    sensors=[new_raw_partitions, cleanup_requests],
    resources={
        "dbt": DbtCli(
            project_dir=dbt_project,
            dbt_executable=dbt_executable(),
        ),
        "convtrack": convtrack,
        "warehouse_lock": WarehouseWriterLock(convtrack=convtrack),
        # Set per run (build_run_config); unset, a run builds every raw day up to today.
        RESOURCE_KEY: BuildRange(),
    },
)
