"""Refunds from files (`convtrack import`): Parquet's own types read as JSON's, the stream
told by `refunded_at`, the same event ids on a second import."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from collector.ingest.importer import import_file
from convtrack.core.settings import Settings
from tests.collector.conftest import read_stream

NOW = dt.datetime(2026, 11, 25, 12, 0)


def stored(settings: Settings) -> list[tuple]:
    return sorted(
        (r["event_id"], r["order_id"], r["amount"], r["reason"], r["refunded_at"], r["source"])
        for r in read_stream(settings, "refunds")
    )


def test_a_parquet_file_of_refunds_is_read_as_its_json_lines_twin(tmp_path: Path):
    times = [dt.datetime(2026, 3, 1, 8, 0), dt.datetime(2026, 3, 2, 23, 30), None]
    table = pa.table(
        {
            "order_id": pa.array([1001, 1002, 1003], pa.int64()),
            "amount": pa.array([10.5, 0.1, -2.0], pa.float64()),
            "reason": ["damaged", None, "x"],
            "refunded_at": pa.array(times, pa.timestamp("us", tz="UTC")),
        }
    )
    parquet = tmp_path / "refunds.parquet"
    pq.write_table(table, parquet)
    lines = tmp_path / "refunds.jsonl"
    lines.write_text(
        "".join(
            json.dumps(
                {
                    "order_id": r["order_id"],
                    "amount": r["amount"],
                    "reason": r["reason"],
                    "refunded_at": None
                    if r["refunded_at"] is None
                    else r["refunded_at"].isoformat(),
                }
            )
            + "\n"
            for r in table.to_pylist()
        )
    )
    results = {}
    for path in (parquet, lines):
        settings = Settings(data_dir=tmp_path / path.suffix.strip(".") / "data")
        result = import_file(path, settings=settings, now=NOW, keep_ids=True)
        assert result.stream == "refunds"
        assert (result.accepted, result.rejected) == (2, 1)
        assert [(p.row, p.code, p.field) for p in result.problems] == [
            (3, "amount_not_positive", "amount")
        ]
        results[path.suffix] = stored(settings)
    assert results[".parquet"] == results[".jsonl"]
    assert sorted(row[1:] for row in results[".parquet"]) == sorted(
        [
            ("1001", Decimal("10.50"), "damaged", dt.datetime(2026, 3, 1, 8, 0), "import"),
            ("1002", Decimal("0.10"), None, dt.datetime(2026, 3, 2, 23, 30), "import"),
        ]
    )


def test_a_second_import_of_a_file_gives_its_refunds_the_same_ids(tmp_path: Path):
    path = tmp_path / "refunds.jsonl"
    rows = [
        {"order_id": "A-1", "amount": "5", "refunded_at": "2026-03-01T08:00:00Z"},
        {"order_id": "A-1", "amount": "5", "refunded_at": "2026-03-02T08:00:00Z"},
        {"order_id": "A-2", "amount": "1", "event_id": "0192F1C4-7B3A-7CDE-8F00-1A2B3C4D5E6F"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    settings = Settings(data_dir=tmp_path / "data")
    first = import_file(path, settings=settings, now=NOW, keep_ids=True)
    again = import_file(path, settings=settings, now=NOW + dt.timedelta(hours=1), keep_ids=True)
    assert first.accepted_ids[:2] == again.accepted_ids[:2]
    assert len({event_id for _, event_id in first.accepted_ids}) == 3
    assert (
        first.accepted_ids[2]
        == again.accepted_ids[2]
        == (
            3,
            "0192f1c4-7b3a-7cde-8f00-1a2b3c4d5e6f",
        )
    )
    # Without a time, a refund is dated when it is imported (two imports, two times).
    refunded = sorted(r["refunded_at"] for r in read_stream(settings, "refunds"))
    assert refunded[-2:] == [NOW, NOW + dt.timedelta(hours=1)]
