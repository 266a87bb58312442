"""Learner micro-batches by a token budget: padded tokens and rows both bounded."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from service.config import EngineSettings
from service.engine.learner import micro_batches
from service.engine.types import DistillationExample


def example(prompt: int, teacher: int, response: int) -> DistillationExample:
    return DistillationExample(
        prompt_ids=(1,) * prompt, teacher_prompt_ids=(2,) * teacher, response_ids=(3,) * response
    )


def test_rows_are_cut_where_the_padded_tokens_would_pass_the_budget() -> None:
    rows = [example(10, 30, 10), example(10, 30, 10), example(10, 90, 10), example(5, 5, 5)]
    settings_ = EngineSettings(micro_batch_size=8, micro_batch_tokens=100)
    groups = micro_batches(rows, settings_)
    # 40-token rows pair up (80); the 100-token row goes alone; it pads the next one to 100.
    assert [len(g) for g in groups] == [2, 1, 1]


def test_without_a_token_budget_only_the_row_count_cuts() -> None:
    rows = [example(100, 100, 100)] * 5
    assert [len(g) for g in micro_batches(rows, EngineSettings(micro_batch_size=2))] == [2, 2, 1]


@settings(max_examples=200, deadline=None)
@given(
    lengths=st.lists(
        st.tuples(st.integers(1, 50), st.integers(1, 80), st.integers(1, 60)), max_size=30
    ),
    budget=st.integers(1, 400),
    rows=st.integers(1, 6),
)
def test_groups_keep_order_and_bounds(
    lengths: list[tuple[int, int, int]], budget: int, rows: int
) -> None:
    examples = [example(*sizes) for sizes in lengths]
    groups = micro_batches(
        examples, EngineSettings(micro_batch_size=rows, micro_batch_tokens=budget)
    )
    assert [e for g in groups for e in g] == examples
    for group in groups:
        assert 1 <= len(group) <= rows
        longest = max(
            max(len(e.prompt_ids), len(e.teacher_prompt_ids or ())) + len(e.response_ids)
            for e in group
        )
        assert len(group) == 1 or len(group) * longest <= budget
