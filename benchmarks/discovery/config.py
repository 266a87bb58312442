"""Named benchmark configurations: `smoke` (minutes, the wiring) and `full` (hours, the answer)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from service.solver.prompts import DEFAULT_PROMPT_STYLE, PromptStyle
from service.solver.strategies import STRATEGIES, StrategyName


@dataclass(frozen=True)
class Config:
    """What one benchmark run compares: strategies × problems × seeds on the same budget."""

    name: str
    problem_set: str  # "examples" or "mbpp"
    limit: int | None
    only: tuple[str, ...] = ()  # problem ids to keep (all when empty)
    strategies: tuple[StrategyName, ...] = STRATEGIES
    seeds: tuple[int, ...] = (0,)
    max_attempts: int = 8
    attempts_per_round: int = 4
    max_new_tokens: int = 128
    select_hard: bool = False
    screen_samples: int = 16
    hard_threshold: float = 0.25
    # At least this many screening passes: "hard but within reach" of the budget (0 keeps the
    # problems the base model never solved, on which every strategy usually ends at zero).
    min_passes: int = 0
    # Screening draws its own samples, apart from every run's seeds, so that selection does not
    # hand best-of-k the very samples it was selected on.
    screen_seed: int = 1000
    # Screen the problems with the shortest references first (then `limit` of them).
    shortest_first: bool = False
    # Keep at most this many of the hard problems (in screening order); None keeps all.
    max_selected: int | None = None
    ks: tuple[int, ...] = field(default=())
    # The job's SDPO hyperparameters over the worker's (`SolveSpec.sdpo`); empty = defaults.
    sdpo: Mapping[str, Any] = field(default_factory=dict)
    # The student (and teacher) prompt's form, for the runs and the screening alike.
    prompt: PromptStyle = DEFAULT_PROMPT_STYLE

    def __post_init__(self) -> None:
        if self.max_attempts % self.attempts_per_round:
            raise ValueError("max_attempts must be a multiple of attempts_per_round")

    @property
    def k_grid(self) -> tuple[int, ...]:
        """The ks the curves are read at: the given ones, or every round boundary."""
        if self.ks:
            return self.ks
        step = self.attempts_per_round
        return tuple(sorted({1, *range(step, self.max_attempts + 1, step)}))

    def with_overrides(self, **changes: Any) -> Config:
        """The config with command-line overrides (None means keep)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


CONFIGS = {
    # 5.6 minutes measured on 2 CPU cores: two example problems the default model can solve at
    # all, one seed, 16 attempts each in rounds of 8 (the demo's shape).
    "smoke": Config(
        name="smoke",
        problem_set="examples",
        limit=None,
        only=("Sum of even numbers", "Remove odd numbers (MBPP style)"),
        max_attempts=16,
        attempts_per_round=8,
        max_new_tokens=192,
    ),
    # The hard MBPP subset within reach of a 135M model on 2 CPU cores: screen the 40 problems
    # with the shortest references (8 base samples each), keep those passed 1 or 2 times out of
    # 8 with a sound reference (at most 8 of them), then 2 seeds x 32 attempts in rounds of 8.
    "full": Config(
        name="full",
        problem_set="mbpp",
        limit=40,
        shortest_first=True,
        seeds=(0, 1),
        max_attempts=32,
        attempts_per_round=8,
        max_new_tokens=192,
        select_hard=True,
        screen_samples=8,
        hard_threshold=0.3,
        min_passes=1,
        max_selected=8,
    ),
    # A GPU host's answer: a wider screen (120 shortest, 16 samples), 3 seeds, 64 attempts.
    # `benchmarks/discovery/device.sh` runs it where the weights are, and a timing-only variant
    # (random weights) where only the model's shape could travel.
    "gpu": Config(
        name="gpu",
        problem_set="mbpp",
        limit=120,
        shortest_first=True,
        seeds=(0, 1, 2),
        max_attempts=64,
        attempts_per_round=8,
        max_new_tokens=256,
        select_hard=True,
        screen_samples=16,
        hard_threshold=0.25,
        min_passes=1,
        max_selected=12,
    ),
}
