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
