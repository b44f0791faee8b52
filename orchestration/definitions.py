"""The convtrack code location: assembles assets, resources and jobs; defines nothing."""

import sys
from pathlib import Path

from dagster import AssetSelection, Definitions, define_asset_job
from dagster_dbt import DbtCliResource

from orchestration.assets.ingest import raw_assets
from orchestration.assets.publish import published_snapshot
from orchestration.assets.transform import convtrack_dbt_models
from orchestration.project import dbt_project
from orchestration.resources import ConvtrackSettings

pipeline_job = define_asset_job(
    "pipeline",
    selection=AssetSelection.all(),
    description="Load raw days, build every dbt model and test, publish the snapshot.",
)

defs = Definitions(
    assets=[*raw_assets, convtrack_dbt_models, published_snapshot],
    jobs=[pipeline_job],
    resources={
        "dbt": DbtCliResource(
            project_dir=dbt_project,
            # the dbt installed beside this interpreter, whether or not .venv/bin is on PATH
            dbt_executable=str(Path(sys.executable).with_name("dbt")),
        ),
        "convtrack": ConvtrackSettings(),
    },
)
