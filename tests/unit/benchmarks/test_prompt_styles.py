"""The prompt-style benchmark's summary: rates, tokens and ratios to the default style."""

from __future__ import annotations

import pytest

from benchmarks.prompt_styles import Judged, summarize


def judged(problem: str, style: str, verdict: str, tokens: int, cut: bool = False) -> Judged:
    return Judged(problem, style, verdict, tokens, cut)


def test_each_style_is_summarized_against_the_reasoning_baseline() -> None:
    rows = [
        judged("a", "reasoning", "accepted", 200),
        judged("a", "reasoning", "compile_error", 256, cut=True),
        judged("b", "reasoning", "wrong_answer", 256, cut=True),
        judged("b", "reasoning", "wrong_answer", 100),
        judged("a", "concise", "accepted", 60),
        judged("a", "concise", "accepted", 70),
        judged("b", "concise", "wrong_answer", 80),
        judged("b", "concise", "accepted", 90),
    ]
    out = summarize(rows)
    assert (out["problems"], out["responses"]) == (2, 8)
    reasoning, concise = out["reasoning"], out["concise"]
    assert reasoning["pass_rate"] == 0.25 and concise["pass_rate"] == 0.75
    assert reasoning["mean_tokens"] == pytest.approx(203)
    assert concise["tokens_ratio_to_baseline"] == pytest.approx(75 / 203)
    assert reasoning["tokens_ratio_to_baseline"] == 1.0
    assert concise["passes_minus_baseline"] == pytest.approx(0.5)
    assert reasoning["truncated_share"] == 0.5 and concise["truncated_share"] == 0.0
    assert reasoning["problems_solved"] == 1 and concise["problems_solved"] == 2
    assert reasoning["pass_rate_by_problem"]["mean"] == pytest.approx(0.25)
