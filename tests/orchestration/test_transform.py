"""What the dbt step makes of dbt's own record of a build (run_results.json)."""

from __future__ import annotations

from orchestration.assets.transform import failed_nodes, unreported_models


def _results(*rows: tuple[str, str]) -> dict:
    return {
        "results": [{"unique_id": uid, "status": status, "message": None} for uid, status in rows]
    }


def test_a_model_built_but_missing_from_the_log_is_named():
    run_results = _results(
        ("model.convtrack.fct_clicks", "success"),
        ("model.convtrack.mart_attribution", "success"),
        ("model.convtrack.fct_conversions", "success"),
    )
    reported = {"model.convtrack.fct_clicks"}
    assert unreported_models(run_results, reported) == [
        "model.convtrack.fct_conversions",
        "model.convtrack.mart_attribution",
    ]


def test_only_models_that_were_built_need_reporting():
    # Tests pass without a materialisation; a failed or skipped model fails the build
    # elsewhere (failed_nodes) and is no missing report.
    run_results = _results(
        ("model.convtrack.fct_clicks", "success"),
        ("test.convtrack.not_null_fct_clicks_event_id.1", "pass"),
        ("model.convtrack.mart_attribution", "error"),
        ("model.convtrack.agg_daily_link_metrics", "skipped"),
    )
    assert unreported_models(run_results, {"model.convtrack.fct_clicks"}) == []
    assert failed_nodes(run_results) == ["model.convtrack.mart_attribution: error: "]
