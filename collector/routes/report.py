"""The latest HTML report (read token), as the pipeline last wrote it (docs/report.md)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from collector.deps import ReaderDep, SettingsDep
from collector.errors import ApiError, error_responses
from collector.validation.problems import Problem
from convtrack.report import report_path

router = APIRouter(
    tags=["read"], dependencies=[ReaderDep], responses=error_responses(401, 403, 404)
)


# The page is HTML, its refusals JSON in the error shape: a plain Response class keeps the
# refusals documented as JSON (an HTML one would label them text/html in the schema).
@router.get(
    "/report",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}, "description": "The report, one HTML page"}},
)
def get_report(settings: SettingsDep) -> HTMLResponse:
    """data/reports/latest.html, one self-contained page; 404 until a run has written one."""
    try:
        # Read whole (a plain `def`: in the thread pool, off the event loop). The pipeline
        # replaces the file by a rename, so one open file is all of one report.
        page = report_path(settings).read_bytes()
    except FileNotFoundError:
        raise ApiError(
            404,
            Problem(
                "no_report",
                None,
                "no report yet: the pipeline writes one after each successful run "
                "(convtrack pipeline run), or write one with convtrack report",
            ),
        ) from None
    # Each run replaces it: a browser asks again rather than show an old one.
    return HTMLResponse(page, headers={"Cache-Control": "no-cache"})
