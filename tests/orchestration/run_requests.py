"""What a pipeline run request asks for, as the pipeline job resolves its run config."""

from dagster import validate_run_config

from orchestration.definitions import defs


def requested_range(run_request) -> dict:
    """The `build_range` resource's config of a run request (refused if it does not fit)."""
    resolved = validate_run_config(defs.resolve_job_def("pipeline"), run_request.run_config)
    return resolved["resources"]["build_range"]["config"]
