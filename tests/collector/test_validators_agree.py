"""The scalar (API) and vectorised (import) validators give the same verdict on any event."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.validation.columns import CONVERSION_FIELDS, rows_to_frame
from collector.validation.scalar import check_conversion
from collector.validation.vectorised import conversion_rules
from tests.collector.strategies import LINK, NOW, WINDOW, as_request_body, events


@settings(max_examples=400, deadline=None)
@given(st.lists(events, min_size=1, max_size=25))
def test_scalar_and_vectorised_validators_agree(batch):
    bodies = [as_request_body(e) for e in batch]
    scalar = [
        check_conversion(b, link_ids={LINK}, currency="USD", window_days=WINDOW, event_time=NOW)
        for b in bodies
    ]
    problems, warnings = conversion_rules(
        link_ids=[LINK], currency="USD", window_days=WINDOW, event_time=pl.lit(NOW), now=NOW
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
