"""The scalar (API) and vectorised (import) validators give the same verdict on any event."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.ingest.importer import import_rows
from collector.ingest.times import epoch_micros, text_micros
from collector.validation.columns import CONVERSION_FIELDS, rows_to_frame
from collector.validation.rules import is_unicode_text
from collector.validation.scalar import check_conversion, check_refund
from collector.validation.vectorised import conversion_rules
from convtrack.core.settings import Settings
from tests.collector.strategies import (
    LINK,
    NOW,
    WINDOW,
    as_request_body,
    events,
    good_refunds,
    good_times,
    hostile_times,
    refunds,
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(events, min_size=1, max_size=25),
    # The link's own window, when it has one (docs/rules.md#windows-per-link).
    st.one_of(st.none(), st.integers(min_value=1, max_value=2 * WINDOW)),
)
def test_scalar_and_vectorised_validators_agree(batch, own_window):
    bodies = [as_request_body(e) for e in batch]
    link_windows = {} if own_window is None else {LINK: own_window}
    scalar = [
        check_conversion(
            b,
            link_ids={LINK},
            currency="USD",
            window_days=WINDOW,
            event_time=NOW,
            link_windows=link_windows,
        )
        for b in bodies
    ]
    problems, warnings = conversion_rules(
        link_ids=[LINK],
        currency="USD",
        window_days=WINDOW,
        event_time=pl.lit(NOW),
        now=NOW,
        link_windows=link_windows,
    )
    frame = rows_to_frame(bodies, CONVERSION_FIELDS).select(
        problems.alias("problems"), warnings.alias("warnings")
    )
    for body, one, (vec_problems, vec_warnings) in zip(
        bodies, scalar, frame.iter_rows(), strict=True
    ):
        assert [(p["code"], p["field"]) for p in vec_problems] == [
            (p.code, p.field) for p in one.problems
        ], body
        assert [(w["code"], w["field"]) for w in vec_warnings] == [
            (w.code, w.field) for w in one.warnings
        ], body


class Tables:
    """A store that keeps what the importer writes."""

    def __init__(self) -> None:
        self.tables: list[pa.Table] = []

    def write_table(self, stream: str, table: pa.Table) -> None:
        self.tables.append(table)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(refunds, good_refunds), min_size=1, max_size=25))
def test_the_refund_api_and_the_importer_agree(batch):
    """Same problems (codes, fields, order) and, for the accepted, the same stored values:
    the API's scalar check beside the importer's vectorised one, at the same clock."""
    bodies = [as_request_body(r) for r in batch]
    scalar = [check_refund(b, currency="USD", received_at=NOW) for b in bodies]
    sink = Tables()
    imported = import_rows(
        bodies,
        "refunds",
        settings=Settings(data_dir=Path("unused"), currency="USD"),
        link_ids=(),
        store=sink,
        now=NOW,
    )
    by_row: dict[int, list] = {}
    for p in imported.problems:
        by_row.setdefault(p.row, []).append((p.code, p.field))
    for row, (body, one) in enumerate(zip(bodies, scalar, strict=True), start=1):
        assert by_row.get(row, []) == [(p.code, p.field) for p in one.problems], body
    stored = pa.concat_tables(sink.tables).to_pylist() if sink.tables else []
    kept = [one.values for one in scalar if not one.problems]
    assert len(stored) == len(kept) == imported.accepted
    for row, values in zip(stored, kept, strict=True):
        assert {k: row[k] for k in ("order_id", "amount", "currency", "reason", "refunded_at")} == {
            k: values[k] for k in ("order_id", "amount", "currency", "reason", "refunded_at")
        }
        assert row["event_id"] == (values["event_id"] or row["event_id"])


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(good_times(), hostile_times()), min_size=1, max_size=40))
def test_the_api_reads_every_time_text_as_the_importer_does(values):
    texts = [v for v in values if isinstance(v, str) and is_unicode_text(v)]
    frame = pl.DataFrame({"t": texts}, schema={"t": pl.String})
    assert [text_micros(t) for t in texts] == epoch_micros(frame, "t").to_list(), texts
