"""How much a job may spend: the `Budget` a user POSTs, the running `BudgetUse` of a job, and
what is left of it (`BudgetLeft`, built only by `budget_left`).

Attempts are the unit that strategies are compared on (discovery@k, docs/algorithm.md §6);
the wall-clock limit only guards the service. Elapsed time comes from an injected monotonic
clock so that tests never sleep and a resumed job can carry the seconds it spent before a crash
(the job row keeps them: `jobs.elapsed_seconds`, written with each event).

One set of ceilings: the model's own bounds are only structural (positive, a round within
the whole); how much one request may ask for is configured (`LimitSettings`) and checked once,
at the API (`api/limits.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

ATTEMPTS_PER_ROUND_CPU = 8
ATTEMPTS_PER_ROUND_GPU = 16

Clock = Callable[[], float]


class Budget(BaseModel):
    """A job's limits: attempts in all, attempts per round (the SDPO batch), rounds (optional:
    learning steps are one per round) and seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: Annotated[int, Field(ge=1)] = 64
    attempts_per_round: Annotated[int, Field(ge=1)] = ATTEMPTS_PER_ROUND_CPU
    max_seconds: Annotated[float, Field(gt=0)] = 3600.0
    max_rounds: Annotated[int | None, Field(ge=1)] = None

    @field_validator("attempts_per_round")
    @classmethod
    def _round_fits(cls, value: int, info: ValidationInfo) -> int:
        # Checked here, not in a model validator, so the error names this field.
        max_attempts = info.data.get("max_attempts")
        if max_attempts is not None and value > max_attempts:
            raise ValueError(f"must be at most max_attempts ({max_attempts}), got {value}")
        return value


def default_attempts_per_round(*, gpu: bool) -> int:
    """The round size (docs/algorithm.md §5): 16 attempts on a GPU host, 8 on a CPU host."""
    return ATTEMPTS_PER_ROUND_GPU if gpu else ATTEMPTS_PER_ROUND_CPU


@dataclass(frozen=True)
class BudgetLeft:
    """What remains of a budget: every event carries it."""

    attempts: int
    seconds: float
    rounds: int | None = None  # only when the budget limits rounds


def budget_left(
    budget: Budget, *, attempts_used: int, rounds: int, elapsed_seconds: float
) -> BudgetLeft:
    """What remains after `attempts_used` attempts, `rounds` rounds started and
    `elapsed_seconds` spent; nothing below zero, and `rounds` only when the budget limits them."""
    rounds_left = None
    if budget.max_rounds is not None:
        rounds_left = max(budget.max_rounds - rounds, 0)
    return BudgetLeft(
        attempts=max(budget.max_attempts - attempts_used, 0),
        seconds=max(budget.max_seconds - elapsed_seconds, 0.0),
        rounds=rounds_left,
    )


@dataclass
class BudgetUse:
    """A job's spending so far; `prior_seconds` is time spent before a resume."""

    budget: Budget
    clock: Clock = time.monotonic
    attempts_used: int = 0
    rounds: int = 0
    prior_seconds: float = 0.0
    _started_at: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.attempts_used <= self.budget.max_attempts:
            raise ValueError(
                f"attempts_used must lie in [0, {self.budget.max_attempts}], "
                f"got {self.attempts_used}"
            )
        self._started_at = self.clock()

    @property
    def elapsed_seconds(self) -> float:
        """Seconds spent on the job, across resumes."""
        return self.prior_seconds + self.clock() - self._started_at

    @property
    def attempts_left(self) -> int:
        """Attempts that may still be sampled."""
        return self.budget.max_attempts - self.attempts_used

    def left(self) -> BudgetLeft:
        """Attempts, seconds and (when limited) rounds remaining now."""
        return self.left_at(self.elapsed_seconds)

    def left_at(self, elapsed_seconds: float) -> BudgetLeft:
        """What remains once `elapsed_seconds` are spent (one clock reading for a stamp and
        the seconds recorded with it)."""
        return budget_left(
            self.budget,
            attempts_used=self.attempts_used,
            rounds=self.rounds,
            elapsed_seconds=elapsed_seconds,
        )

    def exhausted(self) -> bool:
        """No attempt, round or second left."""
        left = self.left()
        out_of_rounds = left.rounds is not None and left.rounds <= 0
        return left.attempts <= 0 or left.seconds <= 0.0 or out_of_rounds

    def next_round_size(self) -> int:
        """A full round, or what is left of the attempts for the last, partial one."""
        return min(self.budget.attempts_per_round, self.attempts_left)

    def start_round(self) -> int:
        """Count a new round; returns its index (rounds count from 0, like attempts)."""
        self.rounds += 1
        return self.rounds - 1

    def spend(self, attempts: int) -> None:
        """Count attempts as used; a round that ends early (a success) spends fewer."""
        if not 0 <= attempts <= self.attempts_left:
            raise ValueError(f"cannot spend {attempts} attempts with {self.attempts_left} left")
        self.attempts_used += attempts
