"""The dbt project for dagster-dbt, and the one way its manifest is prepared.

dagster-dbt defines the dbt assets from `manifest.json` when this code location loads,
so the manifest must exist and match the models before any run, CLI or UI. It is made
here and nowhere else: `prepare_manifest()` parses the project when no manifest of this
exact source exists yet (a digest of every model, macro and yml names it), so a code
change is noticed whether it comes from an edit, a `git pull` or a new release.

In a checkout (where `convtrack/core/dbt_project` is a link to `dbt_project/`) the
manifest lives in `dbt_project/target/`, where dbt users look; an installed package keeps
it in the user's cache, never in site-packages. Per-run dbt artifacts go neither place:
they go to the data directory (`orchestration.dbt_env`).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from convtrack.core.rules import DBT_PROJECT_DIR

# What a parse reads: a change to any of these makes a new manifest.
_SOURCES = ("dbt_project.yml", "profiles.yml", "models/**/*", "macros/**/*", "tests/**/*")
_DIGEST_FILE = "convtrack-source.sha256"


def source_digest(project_dir: Path = DBT_PROJECT_DIR) -> str:
    """A digest of the project's source files, their paths and contents."""
    digest = hashlib.sha256()
    files = {p for pattern in _SOURCES for p in project_dir.glob(pattern) if p.is_file()}
    for path in sorted(files):
        digest.update(str(path.relative_to(project_dir)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def manifest_dir(project_dir: Path = DBT_PROJECT_DIR, digest: str | None = None) -> Path:
    """Where the parsed manifest of this source lives."""
    if project_dir.is_symlink():  # a checkout
        return project_dir.resolve() / "target"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "convtrack" / f"dbt-{(digest or source_digest(project_dir))[:16]}"


def dbt_executable() -> str:
    """The dbt installed beside this interpreter, whether or not its bin is on PATH."""
    return str(Path(sys.executable).with_name("dbt"))


def prepare_manifest(project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """The manifest of the project as it is now; parsed first if there is none for it."""
    digest = source_digest(project_dir)
    target = manifest_dir(project_dir, digest)
    manifest, stamp = target / "manifest.json", target / _DIGEST_FILE
    if manifest.exists() and stamp.exists() and stamp.read_text() == digest:
        return manifest
    target.mkdir(parents=True, exist_ok=True)
    print(f"convtrack: parsing the dbt project into {target} (once per version)", file=sys.stderr)
    subprocess.run(
        [
            dbt_executable(), "parse", "--quiet",
            "--project-dir", str(project_dir), "--profiles-dir", str(project_dir),
            "--target-path", str(target), "--log-path", str(target),
        ],
        check=True,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )  # fmt: skip
    stamp.write_text(digest)
    return manifest


dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    profiles_dir=DBT_PROJECT_DIR,
    target_path=prepare_manifest().parent,
)
