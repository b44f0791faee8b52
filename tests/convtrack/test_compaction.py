"""Compaction of a closed day: one file, no row lost or doubled, even when killed midway."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from collector.storage import ParquetRawEventStore
from convtrack.core import compaction
from convtrack.core.compaction import compact_partition, live_files
from convtrack.core.files import write_parquet_atomically
from convtrack.core.raw_log import encode_record, log_dir
from convtrack.core.raw_schema import partition_dir
from tests.collector.test_storage import click

DAY = dt.date(2026, 11, 20)
# The log segment age the compaction is told about (CONVTRACK_LOG_SEGMENT_MAX_AGE_S).
AGE = 60.0
NOON = dt.datetime(2026, 11, 20, 12)


class Killed(BaseException):
    """Stands for SIGKILL: nothing after the step runs, no cleanup either."""


def small_files(raw: Path, n: int = 4) -> list[str]:
    store = ParquetRawEventStore(raw, writer_id="wsmall")
    ids = []
    for i in range(n):
        rows = [click(10 * i + j, NOON) for j in range(3)]
        store.write_table("clicks", pa.Table.from_pylist(rows))
        ids += [r["event_id"] for r in rows]
    return sorted(ids)


def part(raw: Path) -> Path:
    return partition_dir(raw, "clicks", DAY)


def glob_ids(raw: Path) -> list[str]:
    """What a plain reader (`dt=*/*.parquet`) sees; every file must read."""
    files = sorted(part(raw).glob("*.parquet"))
    return sorted(i for f in files for i in pq.read_table(f).column("event_id").to_pylist())


def live_ids(raw: Path) -> list[str]:
    return sorted(
        i for f in live_files(part(raw)) for i in pq.read_table(f).column("event_id").to_pylist()
    )


def test_compaction_merges_a_day_into_one_file(tmp_path):
    ids = small_files(tmp_path)
    out = compact_partition(tmp_path, "clicks", DAY, segment_age_s=AGE)
    assert [p.name for p in part(tmp_path).iterdir()] == [out.name]
    assert glob_ids(tmp_path) == ids


def test_compaction_is_idempotent(tmp_path):
    ids = small_files(tmp_path)
    first = compact_partition(tmp_path, "clicks", DAY, segment_age_s=AGE)
    assert compact_partition(tmp_path, "clicks", DAY, segment_age_s=AGE) == first
    assert glob_ids(tmp_path) == ids


def test_killed_while_writing_the_merged_file_leaves_the_inputs_whole(tmp_path, monkeypatch):
    ids = small_files(tmp_path)

    def write_temp_then_die(table, final):
        with open(final.with_name(f".{final.name}.tmp"), "wb") as f:
            pq.write_table(table.slice(0, 1), f)  # a partial file under the temp name
        raise Killed

    monkeypatch.setattr(compaction, "write_parquet_atomically", write_temp_then_die)
    with pytest.raises(Killed):
        compact_partition(tmp_path, "clicks", DAY, segment_age_s=AGE)
    assert glob_ids(tmp_path) == ids == live_ids(tmp_path)
    monkeypatch.undo()
    compact_partition(tmp_path, "clicks", DAY, segment_age_s=AGE)
    assert glob_ids(tmp_path) == ids
    assert len(list(part(tmp_path).iterdir())) == 1  # the temp file is gone too


@pytest.mark.parametrize("deleted_before_kill", [0, 1, 3])
def test_killed_between_rename_and_deletes_is_rolled_forward(
    tmp_path, monkeypatch, deleted_before_kill
):
    ids = small_files(tmp_path)

    def delete_some_then_die(inputs):
        for p in inputs[:deleted_before_kill]:
            p.unlink()
        raise Killed

    monkeypatch.setattr(compaction, "_delete_inputs", delete_some_then_die)
    with pytest.raises(Killed):
        compact_partition(tmp_path, "clicks", DAY, segment_age_s=AGE)
    # No row missing for anyone; readers that honour the merged file's sources see no
    # double either.
    assert set(glob_ids(tmp_path)) == set(ids)
    assert live_ids(tmp_path) == ids
    monkeypatch.undo()
    compact_partition(tmp_path, "clicks", DAY, segment_age_s=AGE)
    assert glob_ids(tmp_path) == ids
    assert len(list(part(tmp_path).glob("*.parquet"))) == 1


def test_a_file_arriving_after_the_input_list_is_kept(tmp_path, monkeypatch):
    ids = small_files(tmp_path)
    late = pa.Table.from_pylist([click(999, NOON)])
    real_write = compaction.write_parquet_atomically

    def write_while_an_import_lands(table, final):
        write_parquet_atomically(late, final.parent / "wimport-00000001.parquet")
        real_write(table, final)

    monkeypatch.setattr(compaction, "write_parquet_atomically", write_while_an_import_lands)
    compact_partition(tmp_path, "clicks", DAY, segment_age_s=AGE)
    assert glob_ids(tmp_path) == sorted([*ids, "e999"])


def test_compaction_first_recovers_what_dead_collectors_left_in_the_log(tmp_path):
    ids = small_files(tmp_path, n=2)
    log_dir(tmp_path).mkdir(parents=True)
    row = click(77, NOON) | {"clicked_at": NOON.isoformat(), "received_at": NOON.isoformat()}
    (log_dir(tmp_path) / "wdead-00000002.log").write_bytes(encode_record("clicks", row))
    compact_partition(tmp_path, "clicks", DAY, segment_age_s=AGE)
    assert glob_ids(tmp_path) == sorted([*ids, "e77"])
    assert len(list(part(tmp_path).glob("*.parquet"))) == 1
    assert list(log_dir(tmp_path).iterdir()) == []


def test_a_day_still_being_written_is_left_alone(tmp_path):
    today = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    store = ParquetRawEventStore(tmp_path)
    for i in range(2):
        store.write_table("clicks", pa.Table.from_pylist([click(i, today)]))
    assert compact_partition(tmp_path, "clicks", today.date(), segment_age_s=AGE) is None
    assert len(list(partition_dir(tmp_path, "clicks", today.date()).glob("*.parquet"))) == 2


@pytest.mark.parametrize("age", [1.0, AGE, 3600.0])
def test_a_day_is_closed_once_segments_of_the_configured_age_are_converted(age):
    day = dt.date(2026, 11, 24)
    midnight = dt.datetime(2026, 11, 25)
    # A segment opened just before midnight may still hold the day's rows for `age`.
    late_segment = midnight + dt.timedelta(seconds=age)
    assert not compaction.is_closed(day, segment_age_s=age, now=late_segment)
    closed = midnight + compaction.closed_after(age)
    assert compaction.is_closed(day, segment_age_s=age, now=closed)
    assert not compaction.is_closed(day, segment_age_s=age, now=closed - dt.timedelta(seconds=1))


def test_nothing_to_compact(tmp_path):
    assert compact_partition(tmp_path, "clicks", DAY, segment_age_s=AGE) is None
    small_files(tmp_path, n=1)
    [only] = part(tmp_path).glob("*.parquet")
    assert compact_partition(tmp_path, "clicks", DAY, segment_age_s=AGE) == only
