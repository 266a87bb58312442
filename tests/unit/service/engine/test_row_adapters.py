"""Adapters by row: runs of equal names, and the same outputs as peft's own mixed batch."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from peft import LoraConfig, get_peft_model

from service.engine.row_adapters import BASE, adapters_by_row, spans

NAMES = st.lists(st.sampled_from(["job1", "job2", BASE]), max_size=40)


@given(NAMES)
def test_spans_cover_the_rows_in_order_as_maximal_runs(names: list[str]) -> None:
    runs = spans(names)
    assert [run.name for run in runs for _ in range(run.start, run.stop)] == names
    assert all(run.start < run.stop for run in runs)
    assert all(left.stop == right.start for left, right in zip(runs, runs[1:], strict=False))
    assert all(left.name != right.name for left, right in zip(runs, runs[1:], strict=False))


@given(NAMES)
def test_spans_match_a_brute_force_grouping(names: list[str]) -> None:
    expected: list[tuple[str, int, int]] = []
    for row, name in enumerate(names):
        if expected and expected[-1][0] == name:
            expected[-1] = (name, expected[-1][1], row + 1)
        else:
            expected.append((name, row, row + 1))
    assert [(run.name, run.start, run.stop) for run in spans(names)] == expected


class Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.up = torch.nn.Linear(6, 10)
        self.down = torch.nn.Linear(10, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(torch.relu(self.up(x)))


def tiny_with_adapters() -> torch.nn.Module:
    torch.manual_seed(0)
    config = LoraConfig(r=2, lora_alpha=4, target_modules=["up", "down"], lora_dropout=0.0)
    model = get_peft_model(Tiny(), config, adapter_name="job1")
    model.add_adapter("job2", config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:  # B = 0 at init would make every adapter the base model
                param.normal_(0, 0.5)
    return model.eval()


def inputs(rows: int, *, seed: int) -> torch.Tensor:
    return torch.randn(rows, 3, 6, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    "names",
    [
        ["job1", "job1", "job2", BASE, BASE, "job2"],
        ["job2"] * 6,
        [BASE, "job1", BASE, "job1", "job2", "job1"],
    ],
)
def test_each_row_gets_what_peft_s_own_mixed_batch_gives_it(names: list[str]) -> None:
    model = tiny_with_adapters()
    x = inputs(len(names), seed=0)
    with torch.no_grad():
        expected = model(x, adapter_names=names)
        with adapters_by_row(model.base_model, names):
            got = model(x)
        after = model(x, adapter_names=names)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(after, expected, rtol=0, atol=0)  # hooks gone, adapters back


def test_rows_of_one_adapter_are_what_that_adapter_alone_gives() -> None:
    model = tiny_with_adapters()
    x = inputs(4, seed=1)
    with torch.no_grad():
        model.set_adapter("job2")
        alone = model(x[2:])
        with adapters_by_row(model.base_model, ["job1", "job1", "job2", "job2"]):
            got = model(x)
    # Equal to float32 rounding, not bit for bit: a 4-row and a 2-row matmul may take different
    # BLAS kernels and blockings, so the sums round in a different order (a few ulps here).
    torch.testing.assert_close(got[2:], alone, rtol=1e-5, atol=1e-6)


def test_a_forward_that_records_gradients_is_refused() -> None:
    model = tiny_with_adapters()
    with (
        adapters_by_row(model.base_model, ["job1"]),
        pytest.raises(RuntimeError, match="inference"),
    ):
        model(inputs(1, seed=2)[:, :1])
