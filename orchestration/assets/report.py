"""The HTML report of the snapshot just published (docs/report.md)."""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from convtrack.report import write_report
from orchestration.resources import ConvtrackSettings


@asset(
    key=AssetKey("report"),
    group_name="publish",
    deps=[AssetKey("published_snapshot")],
    kinds={"html"},
)
def report(context: AssetExecutionContext, convtrack: ConvtrackSettings) -> MaterializeResult:
    """data/reports/latest.html: the report of the published snapshot, after each run.

    It reads only the snapshot, so it needs no warehouse lock."""
    settings = convtrack.load()
    path = write_report(settings)
    context.log.info(f"wrote the report to {path}")
    return MaterializeResult(metadata={"path": str(path), "bytes": path.stat().st_size})
