"""Every string of a result is storable: lone surrogates and NUL never survive validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.results import CaseResult, ProgramError, SuiteResult, Verdict, valid_text


@given(
    st.text(
        st.sampled_from(["a", "\u00e9", "\U0001f600", "\ud800", "\udfff", "\x00"]) | st.characters()
    )
)
def test_valid_text_always_encodes_and_keeps_what_was_valid(text: str) -> None:
    cleaned = valid_text(text)
    cleaned.encode("utf-8")
    assert "\x00" not in cleaned
    assert len(cleaned) == len(text)
    assert all(a == b or b == "\ufffd" for a, b in zip(text, cleaned, strict=True))


@pytest.mark.parametrize("bad", ["\ud800", "a\udfffb", "\x00", "\ud83d"])
def test_every_text_field_of_a_result_is_cleaned(bad: str) -> None:
    error = ProgramError.model_validate(
        {"type": bad, "message": bad, "frames": [{"line": 1, "function": bad, "code": bad}]}
    )
    case = CaseResult(
        index=0,
        verdict=Verdict.RUNTIME_ERROR,
        input_excerpt=bad,
        expected_excerpt=bad,
        actual_excerpt=bad,
        stderr_excerpt=bad,
        error=error,
    )
    suite = SuiteResult(verdict=Verdict.RUNTIME_ERROR, passed=0, total=1, cases=[case], detail=bad)
    text = suite.model_dump_json()
    text.encode("utf-8")
    assert bad not in text and "\\u0000" not in text
