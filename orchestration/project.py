"""Where the dbt project lives, for dagster-dbt."""

from dagster_dbt import DbtProject

from convtrack.core.rules import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# Under `dagster dev` this re-parses the project so edits show up; elsewhere the
# manifest is built by `make setup` (or convtrack.pipeline.ensure_manifest).
dbt_project.prepare_if_dev()
