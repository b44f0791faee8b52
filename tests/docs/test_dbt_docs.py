"""`make docs`: the dbt documentation site, one HTML file that opens offline on a fresh clone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.marts import mart_tables

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_make_docs_writes_one_self_contained_page(tmp_path):
    out = tmp_path / "site" / "index.html"
    # What `make docs` runs, with only the output moved; no warehouse or data dir needed.
    subprocess.run(
        [sys.executable, str(ROOT / "docs" / "dbt_docs.py"), "--out", str(out)],
        check=True,
        cwd=tmp_path,
        timeout=300,
    )
    html = out.read_text()
    # The manifest (every mart) and the catalog (column types from the empty build) inside.
    for table in mart_tables():
        assert f'"model.convtrack.{table}"' in html, table
    assert '"days_since_click": {"type": "BIGINT"' in html
    # With usage statistics on, the page would load a tracker script from a CDN.
    assert '"send_anonymous_usage_stats": false' in html
    assert not (tmp_path / "logs").exists()  # dbt left nothing where it ran
