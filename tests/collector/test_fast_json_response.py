"""FastJSONResponse answers what Starlette's JSONResponse answers, for any content."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.responses import JSONResponse

from collector.jsontext import FastJSONResponse
from tests.collector.strategies import hostile_text

# Every JSON value an answer could hold, at its extremes: text of any code point (lone
# surrogates included), integers past 64 bits, finite floats (see the class), keys that
# are not text, deep nesting.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    hostile_text,
)
content = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(hostile_text, st.integers(), st.booleans()), inner, max_size=4),
    ),
    max_leaves=30,
)


def rendered(response_class: type[JSONResponse], value: object) -> bytes | type[Exception]:
    try:
        return response_class(value).body
    except Exception as exc:  # what the server would turn into a 500
        return type(exc)


@given(content)
def test_the_fast_answer_is_the_same_json_value_or_the_same_failure(value):
    fast, starlette = rendered(FastJSONResponse, value), rendered(JSONResponse, value)
    if isinstance(starlette, type):
        assert fast is starlette
    else:
        assert isinstance(fast, bytes)
        assert json.loads(fast) == json.loads(starlette)
        assert fast.decode() == fast.decode("utf-8")  # valid UTF-8, as Starlette's


@pytest.mark.parametrize("value", [{"results": [], "accepted": 0}, {"k": "é\u2028\x00"}])
def test_plain_answers_are_byte_for_byte_starlettes(value):
    assert FastJSONResponse(value).body == JSONResponse(value).body


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_the_one_difference(value):
    assert FastJSONResponse({"x": value}).body == b'{"x":null}'
    with pytest.raises(ValueError):
        JSONResponse({"x": value})
