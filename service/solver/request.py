"""A job's request: the one shape a job has from the HTTP body to the strategy.

`POST /solve` validates its body into a `SolveRequest` once (every override with the bounds
the worker's own settings use: `SdpoParams` in config.py), the store keeps its parts in the
job's columns and hands them back as a `SolveRequest` (`store.jobs.job_request`), and the
worker adds its own settings to make the solver's `SolveSpec` (`solver.spec`). The wire model
is the OpenAPI schema's `SolveRequest` (docs/http-api.md, "Requests").
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from sandbox.problem import Problem
from service.config import SdpoParams
from service.engine.types import SamplingParams
from service.solver.budget import Budget
from service.solver.prompts import DEFAULT_PROMPT_STYLE, PromptStyle
from service.solver.strategy_names import DEFAULT_STRATEGY, StrategyName


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SamplingRequest(_Request):
    """How attempts are sampled; an unset `max_new_tokens` takes the worker's."""

    max_new_tokens: Annotated[int | None, Field(ge=1)] = None
    # The sampler's own default (SDPO samples on-policy at T=1), not a copy of it.
    temperature: Annotated[float, Field(gt=0, le=2.0)] = SamplingParams.temperature
    prompt: PromptStyle = Field(
        default=DEFAULT_PROMPT_STYLE,
        description="`reasoning` (a thought process, then the code) or `concise` (the code "
        "alone); the teacher's prompt takes the same form",
    )

    def overrides(self) -> dict[str, Any]:
        """The fields as the store keeps them (unset ones left out)."""
        return self.model_dump(mode="json", exclude_none=True)


class SolveRequest(_Request):
    """`POST /solve`: a problem with its tests, and how to spend a budget on it."""

    problem: Problem
    strategy: StrategyName = DEFAULT_STRATEGY
    budget: Budget = Field(default_factory=Budget)
    sampling: SamplingRequest = Field(default_factory=SamplingRequest)
    sdpo: SdpoParams = Field(default_factory=SdpoParams)
    seed: Annotated[int, Field(ge=0, lt=2**31)] = 0
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
