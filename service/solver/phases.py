"""Where a solve's wall time goes: sampling, sandbox, learning, and the rest (bookkeeping).

The loop-overhead benchmark measures it as the share of wall time outside sampling and learning;
this split is what a job reports for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from service.solver.budget import Clock

Phase = Literal["sampling", "sandbox", "learning"]


@dataclass(frozen=True)
class PhaseSeconds:
    """Where a solve's wall time went; `bookkeeping` is the rest (prompts, feedback, sinks).

    `learning` includes creating or restoring the adapter, checkpointing and publishing it.
    """

    sampling: float
    sandbox: float
    learning: float
    bookkeeping: float

    @property
    def total(self) -> float:
        """The solve's wall time."""
        return self.sampling + self.sandbox + self.learning + self.bookkeeping


@dataclass
class PhaseTimer:
    """Accumulates seconds per phase from an injected clock."""

    clock: Clock
    spent: dict[Phase, float] = field(
        default_factory=lambda: {"sampling": 0.0, "sandbox": 0.0, "learning": 0.0}
    )
    started_at: float = field(init=False)

    def __post_init__(self) -> None:
        self.started_at = self.clock()

    @contextmanager
    def phase(self, name: Phase) -> Iterator[None]:
        """Count the block's time against `name`."""
        begin = self.clock()
        try:
            yield
        finally:
            self.spent[name] += self.clock() - begin

    def split(self) -> PhaseSeconds:
        """The phases so far, the remainder being bookkeeping."""
        total = self.clock() - self.started_at
        measured = sum(self.spent.values())
        return PhaseSeconds(
            sampling=self.spent["sampling"],
            sandbox=self.spent["sandbox"],
            learning=self.spent["learning"],
            bookkeeping=max(total - measured, 0.0),
        )
