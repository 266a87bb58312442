"""The solver's input: a job's request, as validated, plus what the worker running it adds.

Nothing of the request is copied: `SolveSpec` holds the `SolveRequest` itself and derives
the sampler's parameters and the learner's overrides from it, so a field is added to a job
in one place (`solver.request`) and reaches the strategy as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from pydantic import BaseModel

from sandbox.problem import Problem
from service.config import SandboxSettings, SdpoParams, Settings, WorkerSettings
from service.engine.types import SamplingParams
from service.solver.budget import Budget
from service.solver.request import SolveRequest
from service.solver.strategy_names import StrategyName

# Prompt room: a multi-turn prompt and a teacher prompt (problem, feedback, the attempt) in
# tokens, within the default model's 4096-token context with room for the response.
PROMPT_MAX_TOKENS = 3584
TEACHER_MAX_TOKENS = 10240


def _default(model: type[BaseModel], name: str) -> int:
    """A settings field's default, so the in-process default is the worker's, not a copy."""
    return cast(int, model.model_fields[name].default)


@dataclass(frozen=True)
class SolverSettings:
    """What a worker (or an in-process caller: the CLI, a benchmark) adds to a request.

    `max_new_tokens` is used where the request leaves it unset; `judge_workers` judges a
    round's attempts concurrently; `prompt_max_tokens` bounds the multi-turn prompt.
    """

    max_new_tokens: int = _default(WorkerSettings, "max_new_tokens")
    judge_workers: int = _default(SandboxSettings, "concurrency")
    prompt_max_tokens: int = PROMPT_MAX_TOKENS
    teacher_max_tokens: int = TEACHER_MAX_TOKENS
    system_prompt: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SolverSettings:
        """A worker's: its token default and its sandbox's concurrency."""
        return cls(
            max_new_tokens=settings.worker.max_new_tokens,
            judge_workers=settings.sandbox.concurrency,
        )


@dataclass(frozen=True)
class SolveSpec:
    """One job: its id, its request and the worker's settings for it.

    `seed` seeds the adapter's init and, through `round_seed`, each round's sampling (it
    replaces `sampling.seed`).
    """

    job_id: str
    request: SolveRequest
    worker: SolverSettings = field(default_factory=SolverSettings)

    @property
    def problem(self) -> Problem:
        """The problem and its tests."""
        return self.request.problem

    @property
    def strategy(self) -> StrategyName:
        """The strategy that spends the budget."""
        return self.request.strategy

    @property
    def budget(self) -> Budget:
        """The job's limits."""
        return self.request.budget

    @property
    def seed(self) -> int:
        """The job's seed."""
        return self.request.seed

    @property
    def sampling(self) -> SamplingParams:
        """The sampler's parameters: the request's, with the worker's token default."""
        asked = self.request.sampling
        tokens = (
            self.worker.max_new_tokens if asked.max_new_tokens is None else asked.max_new_tokens
        )
        return SamplingParams(max_new_tokens=tokens, temperature=asked.temperature)

    @property
    def sdpo(self) -> SdpoParams:
        """The job's SDPO hyperparameters (`Learner.create`); unset fields are the worker's."""
        return self.request.sdpo
