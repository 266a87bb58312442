"""Named configurations: `smoke` (a minute, the wiring), `full` (the default model's answer on
the hard MBPP pool), `gpu` (a GPU host's wider pool)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Config:
    """Which problems, how many attempts each, and how they are sampled."""

    name: str
    problem_set: str  # "examples" or "mbpp"
    limit: int | None
    attempts_per_problem: int
    max_new_tokens: int
    shortest_first: bool = False
    seed: int = 0

    def with_overrides(self, **changes: Any) -> Config:
        """The config with command-line overrides (None means keep)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


CONFIGS = {
    # The examples, 2 short attempts each: every part runs, no figure means anything.
    "smoke": Config("smoke", "examples", None, attempts_per_problem=2, max_new_tokens=48),
    # The discovery benchmark's screening pool: the 40 MBPP problems with the shortest
    # references (a 135M model solves short programs or none), 4 attempts each, its 192 tokens.
    "full": Config(
        "full", "mbpp", 40, attempts_per_problem=4, max_new_tokens=192, shortest_first=True
    ),  # fmt: skip
    # A GPU host: the discovery `gpu` config's pool of 120, 8 attempts of 256 tokens.
    "gpu": Config(
        "gpu", "mbpp", 120, attempts_per_problem=8, max_new_tokens=256, shortest_first=True
    ),  # fmt: skip
}
