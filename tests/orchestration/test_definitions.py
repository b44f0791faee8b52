"""The code location loads offline and wires raw → dbt → publish as one graph."""

from dagster import AssetKey

from convtrack.core import raw_schema
from orchestration.definitions import defs
from orchestration.retention import PRUNED_STREAMS


def test_the_asset_graph_runs_from_raw_through_dbt_to_the_snapshot():
    graph = defs.resolve_asset_graph()
    staging = graph.get(AssetKey(["staging", "stg_collector__clicks"]))
    assert AssetKey(["raw", "clicks"]) in staging.parent_keys
    publish = graph.get(AssetKey("published_snapshot"))
    assert AssetKey(["marts", "agg_daily_link_metrics"]) in publish.parent_keys
    assert AssetKey(["marts", "_meta"]) in publish.parent_keys
    assert not any(k.path[0] in ("staging", "intermediate") for k in publish.parent_keys)


def test_every_raw_stream_is_loaded_and_refunds_are_never_pruned():
    graph = defs.resolve_asset_graph()
    for stream in raw_schema.STREAMS:
        assert graph.has(AssetKey(["raw", stream])), stream
    staging = graph.get(AssetKey(["staging", "stg_collector__refunds"]))
    assert AssetKey(["raw", "refunds"]) in staging.parent_keys
    # Raw refunds hold no personal data and a refund may come long after its purchase.
    assert "refunds" in raw_schema.STREAMS and "refunds" not in PRUNED_STREAMS


def test_one_materialisation_per_asset_and_run_and_marts_have_freshness_policies():
    graph = defs.resolve_asset_graph()
    # A run's range is a resource, not partitions; dbt tests run inside the build, not as
    # asset checks: either would cost run-storage events per day or per test.
    assert not any(graph.get(key).is_partitioned for key in graph.get_all_asset_keys())
    assert not graph.asset_check_keys
    spec = graph.get(AssetKey(["marts", "mart_conversion_funnel"]))
    assert spec.freshness_policy is not None


def test_schedules_and_sensors_target_the_jobs():
    assert {s.name: s.job_name for s in defs.schedules} == {
        "hourly_build": "pipeline",
        "daily_prune": "prune",
        "daily_compaction": "compaction",
    }
    assert {s.name for s in defs.sensors} == {"new_raw_partitions", "cleanup_requests"}
    for name in ("pipeline", "prune", "compaction"):
        assert defs.resolve_job_def(name).executor_def.name == "in_process"
