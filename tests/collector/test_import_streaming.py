"""File imports in batches: row numbers of the file, bounded reports, memory of a batch."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from collector.ingest import importer
from collector.ingest.importer import MAX_LINE_BYTES, MAX_REPORTED_PROBLEMS, import_file
from collector.storage import ParquetRawEventStore
from convtrack.core.raw_schema import CAMPAIGN_LINKS
from tests.collector.conftest import read_stream, uuid7_at

NOW = dt.datetime(2026, 9, 10, 12, 0, 0)
TRACKING = uuid7_at(dt.datetime(2026, 9, 1))


@pytest.fixture
def link_id(link: dict) -> str:
    return link["campaign_link_id"]


def _click(link_id: str, i: int, bad: bool) -> dict:
    return {
        "tracking_id": "nope" if bad else TRACKING,
        "campaign_link_id": link_id,
        "clicked_at": f"2026-09-{1 + i % 9:02d}T10:00:00Z",
    }


BAD_ROWS = {2, 4, 7, 10}


@pytest.mark.parametrize("batch_rows", [1, 3, 100])
def test_problems_name_parquet_rows_of_the_file_across_batches(
    settings, link_id, tmp_path, batch_rows
):
    rows = [_click(link_id, i, i + 1 in BAD_ROWS) for i in range(10)]
    path = tmp_path / "clicks.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=4)
    result = import_file(path, settings=settings, now=NOW, batch_rows=batch_rows, keep_ids=True)
    assert [p.row for p in result.problems] == sorted(BAD_ROWS)
    assert [row for row, _ in result.accepted_ids] == [r for r in range(1, 11) if r not in BAD_ROWS]
    assert len(read_stream(settings, "clicks")) == 6


@pytest.mark.parametrize("batch_rows", [1, 3, 100])
def test_problems_name_lines_of_the_file_across_batches(settings, link_id, tmp_path, batch_rows):
    lines = []
    for i in range(10):
        lines.append(json.dumps(_click(link_id, i, i + 1 in BAD_ROWS)))
        if i % 3 == 0:
            lines.append("")  # blank lines count as lines, not as rows
    path = tmp_path / "clicks.jsonl"
    path.write_text("\n".join(lines) + "\n")
    line_of = [n for n, text in enumerate(lines, start=1) if text]
    result = import_file(path, settings=settings, now=NOW, batch_rows=batch_rows, keep_ids=True)
    assert [p.row for p in result.problems] == [line_of[r - 1] for r in sorted(BAD_ROWS)]
    accepted = [line_of[r - 1] for r in range(1, 11) if r not in BAD_ROWS]
    assert [row for row, _ in result.accepted_ids] == accepted


def test_an_over_long_line_is_refused_unread_and_the_next_lines_are_imported(
    settings, link_id, tmp_path
):
    good = json.dumps(_click(link_id, 0, False))
    huge = json.dumps(_click(link_id, 0, False) | {"user_agent": "x" * (3 * MAX_LINE_BYTES)})
    path = tmp_path / "clicks.jsonl"
    path.write_text(f"{good}\n{huge}\n{good}\n{'[' * (2 * MAX_LINE_BYTES)}\n{good}")
    result = import_file(path, settings=settings, now=NOW, batch_rows=2, keep_ids=True)
    assert [(p.row, p.code) for p in result.problems] == [(2, "invalid_body"), (4, "invalid_body")]
    assert "longer than 64 KB" in result.problems[0].message
    assert [row for row, _ in result.accepted_ids] == [1, 3, 5]


def test_a_file_reports_the_first_problems_and_counts_them_all(settings, link_id, tmp_path):
    n = MAX_REPORTED_PROBLEMS + 500
    path = tmp_path / "clicks.jsonl"
    path.write_text(
        "".join(json.dumps(_click(link_id, i, i % 4 != 0)) + "\n" for i in range(n * 4 // 3 + 1))
    )
    result = import_file(path, settings=settings, now=NOW, batch_rows=300)
    assert result.rejected == n
    assert result.problem_counts == {"invalid_uuid": n}
    assert len(result.problems) == MAX_REPORTED_PROBLEMS
    assert [p.row for p in result.problems][:3] == [2, 3, 4]
    summary = result.summary()
    assert f"problems by code: invalid_uuid {n}" in summary
    assert f"... and {n - 20} more problems" in summary


def test_a_file_broken_half_way_keeps_the_batches_read_and_says_so(settings, link_id, tmp_path):
    path = tmp_path / "clicks.parquet"
    table = pa.Table.from_pylist([_click(link_id, i, False) for i in range(40)])
    pq.write_table(table, path, row_group_size=10)
    data = bytearray(path.read_bytes())
    # Scramble the data pages of the last row groups, keep the footer readable.
    meta = pq.ParquetFile(path).metadata
    first_page = meta.row_group(2).column(0)
    start = first_page.dictionary_page_offset or first_page.data_page_offset
    data[start : len(data) - meta.serialized_size - 8] = b"\xff" * (
        len(data) - meta.serialized_size - 8 - start
    )
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="after 20 rows, which are imported"):
        import_file(path, settings=settings, now=NOW, batch_rows=10)
    assert len(read_stream(settings, "clicks")) == 20


# A child process measures its own peak memory around one import: a fresh interpreter is
# the only place where ru_maxrss says something about the import and nothing else.
MEASURE = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    from collector.ingest.importer import import_file
    from convtrack.core.settings import Settings

    data_dir, small, big, batch_rows = sys.argv[1:5]
    settings = Settings(data_dir=Path(data_dir))
    # Warm up (imports, thread pools, allocator arenas) on a small file of the same kind.
    import_file(Path(small), settings=settings, batch_rows=int(batch_rows))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = import_file(Path(big), settings=settings, batch_rows=int(batch_rows))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"accepted": result.accepted, "growth_bytes": (after - before) * 1024}))
    """
)


def _peak_growth(data_dir: Path, small: Path, big: Path, batch_rows: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(data_dir), str(small), str(big), str(batch_rows)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.splitlines()[-1])


def _write_link(raw_dir: Path, link_id: str) -> None:
    t0 = dt.datetime(2026, 1, 1)
    row = dict(
        campaign_link_id=link_id,
        short_code="a",
        destination_url="https://example.com/",
        campaign_name=None,
        youtube_video_id=None,
        placement=None,
        created_at=t0,
        disabled_at=None,
        recorded_at=t0,
    )
    ParquetRawEventStore(raw_dir).write_table(
        "campaign_links", pa.Table.from_pylist([row], schema=CAMPAIGN_LINKS)
    )


LINK = "0190f1a2-0000-7000-8000-00000000000a"


def _compressible_clicks(path: Path, rows: int) -> int:
    """`rows` identical clicks in one row group; returns their decoded (Arrow) size."""
    one = {
        "event_id": "0190f1a2-0000-7000-8000-0000000000e1",
        "tracking_id": TRACKING,
        "campaign_link_id": LINK,
        "clicked_at": dt.datetime(2026, 9, 1, 10),
        "ip_address": "203.0.113.9",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari",
        "referrer": "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
    }
    table = pa.Table.from_pylist([one]).take([0] * rows)
    pq.write_table(table, path, row_group_size=rows, compression="zstd")
    return table.nbytes


def test_memory_follows_the_batch_not_the_parquet_file(tmp_path):
    _write_link(tmp_path / "data" / "raw", LINK)
    big, small = tmp_path / "big.parquet", tmp_path / "small.parquet"
    decoded = _compressible_clicks(big, 2_000_000)
    _compressible_clicks(small, 20_000)
    assert big.stat().st_size < decoded / 100  # the file hides its size
    measured = _peak_growth(tmp_path / "data", small, big, batch_rows=20_000)
    assert measured["accepted"] == 2_000_000
    # Reading the file whole would take at least its decoded size, validation a multiple.
    assert measured["growth_bytes"] < decoded / 4, measured


def test_memory_follows_the_batch_not_the_json_lines_file(tmp_path):
    _write_link(tmp_path / "data" / "raw", LINK)
    big, small = tmp_path / "big.jsonl", tmp_path / "small.jsonl"
    line = json.dumps(
        {
            "tracking_id": TRACKING,
            "campaign_link_id": LINK,
            "event_type": "purchase",
            "revenue_amount": 19.99,
            "order_id": "o-1",
            "event_data": {"plan": "pro"},
            "converted_at": "2026-09-01T10:00:00Z",
        }
    )
    big.write_text((line + "\n") * 200_000)
    small.write_text((line + "\n") * 5_000)
    measured = _peak_growth(tmp_path / "data", small, big, batch_rows=5_000)
    assert measured["accepted"] == 200_000
    # Parsed whole, the rows as Python objects take several times the file's bytes.
    assert measured["growth_bytes"] < big.stat().st_size / 2, measured


class _CountingStore:
    """The Parquet store, counting the rows of each write."""

    def __init__(self, raw_dir: Path) -> None:
        self.store = ParquetRawEventStore(raw_dir)
        self.writes: list[int] = []

    def write_table(self, stream: str, table: pa.Table) -> None:
        self.writes.append(table.num_rows)
        self.store.write_table(stream, table)


def test_small_batches_are_written_together_not_one_file_per_day_per_batch(
    settings, link_id, tmp_path, monkeypatch
):
    path = tmp_path / "clicks.jsonl"
    path.write_text("".join(json.dumps(_click(link_id, i, False)) + "\n" for i in range(90)))
    store = _CountingStore(settings.raw_dir)
    assert import_file(path, settings=settings, store=store, now=NOW, batch_rows=10).accepted == 90
    assert store.writes == [90]
    assert len(list((settings.raw_dir / "clicks").glob("dt=*/*.parquet"))) == 9  # one per day
    # A buffer of a few rows' bytes is written each time it fills, and once at the end.
    monkeypatch.setattr(importer, "WRITE_BUFFER_BYTES", 1)
    store = _CountingStore(settings.raw_dir)
    assert import_file(path, settings=settings, store=store, now=NOW, batch_rows=10).accepted == 90
    assert store.writes == [10] * 9
    assert len(read_stream(settings, "clicks")) == 180
