"""Named benchmark configurations: `smoke` (minutes, the wiring) and `full` (hours, the answer)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

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
    ks: tuple[int, ...] = field(default=())

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
    # The hard MBPP subset (base pass rate < 25% on 16 samples, references sound), 3 seeds,
    # 64 attempts in rounds of 8. Not run yet; at the smoke's 2.8 to 4.7 s per attempt that is
    # roughly 30 minutes per problem (3 strategies x 3 seeds x 64 attempts) on 2 CPU cores.
    "full": Config(
        name="full",
        problem_set="mbpp",
        limit=None,
        seeds=(0, 1, 2),
        max_attempts=64,
        attempts_per_round=8,
        max_new_tokens=256,
        select_hard=True,
    ),
}
