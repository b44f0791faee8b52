"""docs/ says what the code does: every link and anchor resolves, and the lists the docs
give (settings, problem codes, raw columns, marts) are the code's lists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from collector.validation.problems import MESSAGES
from convtrack.core.raw_schema import SCHEMAS
from convtrack.core.settings import Settings
from tests.marts import mart_tables

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# The anchors code comments point at: they must stay.
CONTRACT_ANCHORS = {
    "rules.md": {"validation", "attribution", "retention", "time"},
    "schemas.md": {"raw-events", "warehouse"},
    "api.md": {"errors", "limits"},
}


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    in_code = False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not line.startswith("#"):
            continue
        base = slug(line.lstrip("#"))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def repository_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / name for name in listed if (ROOT / name).is_file()]


def test_the_anchors_code_points_at_exist():
    for page, wanted in CONTRACT_ANCHORS.items():
        assert wanted <= anchors(DOCS / page), page


def test_every_docs_reference_in_the_repository_resolves():
    pattern = re.compile(r"docs/([A-Za-z_]+\.md)(?:#([a-z0-9-]+))?")
    broken = []
    for path in repository_files():
        if path.suffix not in {".py", ".sql", ".yml", ".md", ".toml", ".js", ""}:
            continue
        for page, anchor in pattern.findall(path.read_text(errors="replace")):
            target = DOCS / page
            if not target.exists() or (anchor and anchor not in anchors(target)):
                broken.append(f"{path.relative_to(ROOT)}: docs/{page}#{anchor}")
    assert not broken


def test_every_markdown_link_in_the_docs_resolves():
    link = re.compile(r"\]\(([^)\s]+)\)")
    broken = []
    for page in [ROOT / "README.md", *DOCS.glob("*.md")]:
        for href in link.findall(page.read_text()):
            if href.startswith(("http://", "https://")):
                continue
            name, _, anchor = href.partition("#")
            target = (page.parent / name).resolve() if name else page
            if not target.exists() or (anchor and anchor not in anchors(target)):
                broken.append(f"{page.relative_to(ROOT)}: {href}")
    assert not broken


def test_every_setting_is_in_the_configuration_table():
    text = (DOCS / "operations.md").read_text()
    table = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `CONVTRACK_([A-Z0-9_]+)`", table, flags=re.M))
    assert documented == {name.upper() for name in Settings.model_fields}


def collector_problem_codes() -> set[str]:
    """Every code the collector can answer with: the validation messages, and the codes
    of the other refusals (auth, routing, links, storage, the read API)."""
    made = re.compile(r"(?:Problem|problem|LinkError)\(\s*\"([a-z_]+)\"")
    codes = set(MESSAGES)
    for path in (ROOT / "collector").rglob("*.py"):
        codes |= set(made.findall(path.read_text()))
    return codes


def test_every_problem_code_is_in_the_api_docs():
    text = (DOCS / "api.md").read_text()
    missing = sorted(code for code in collector_problem_codes() if f"`{code}`" not in text)
    assert not missing


def test_every_raw_column_and_mart_is_in_the_schemas():
    text = (DOCS / "schemas.md").read_text()
    for stream, schema in SCHEMAS.items():
        section = text.split(f"### `{stream}`", 1)[1].split("\n### ", 1)[0]
        for column in schema.names:
            assert f"`{column}`" in section, (stream, column)
    warehouse = text.split("## Warehouse", 1)[1]
    for table in mart_tables():
        assert f"### `{table}`" in warehouse, table
