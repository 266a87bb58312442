"""The events a job streams (docs/http-api.md), as the solver emits them.

Every event carries `attempts_used` and `budget_left`; the store adds `job_id`, `seq` and `at`
when it appends the event. The models are pydantic because they cross the edge as JSON (SSE,
WebSocket, the events table); `EVENT_ADAPTER` parses any of them back by its `type`.
Rounds and attempts are numbered from 0.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypedDict, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from sandbox.results import Verdict
from service.solver.budget import BudgetLeft

# Re-exported: readers of the event stream look for its end here, beside the events.
from service.solver.endings import TERMINAL_TYPES as TERMINAL_TYPES


class Stamp(TypedDict):
    """The fields every event carries from the solver."""

    attempts_used: int
    budget_left: BudgetLeft


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    attempts_used: Annotated[int, Field(ge=0)]
    budget_left: BudgetLeft


class JobQueued(_Event):
    """The job was accepted (emitted by the API, not by the solver)."""

    type: Literal["job.queued"] = "job.queued"


class JobStarted(_Event):
    """A worker began (or resumed) the job."""

    type: Literal["job.started"] = "job.started"
    strategy: str
    resumed: bool = False


class RoundStarted(_Event):
    """A round of `attempts` samples begins."""

    type: Literal["round.started"] = "round.started"
    round: Annotated[int, Field(ge=0)]
    attempts: Annotated[int, Field(ge=1)]


class AttemptFinished(_Event):
    """One attempt was judged; `verdict` is final (hidden tests and the re-run included)."""

    type: Literal["attempt.finished"] = "attempt.finished"
    index: Annotated[int, Field(ge=0)]
    verdict: Verdict
    passed: Annotated[int, Field(ge=0)]
    total: Annotated[int, Field(ge=0)]
    truncated: bool = False  # sampling stopped at the token limit


class LearnerStep(_Event):
    """One SDPO optimizer step on the job's adapter."""

    type: Literal["learner.step"] = "learner.step"
    round: Annotated[int, Field(ge=0)]
    loss: float
    kl: float
    grad_norm: float
    seconds: float


class AdapterPublished(_Event):
    """A new adapter version is live for sampling."""

    type: Literal["adapter.published"] = "adapter.published"
    version: Annotated[int, Field(ge=1)]


class PhaseSplit(BaseModel):
    """Seconds a worker's run of the job spent per phase (`PhaseSeconds` on the wire)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sampling: float
    sandbox: float
    learning: float
    bookkeeping: float


class _Ending(_Event):
    """A terminal event; `seconds` says where the ending run's wall time went."""

    seconds: PhaseSplit | None = None


class JobSucceeded(_Ending):
    """An attempt passed the public and hidden tests, twice; `solution` is its program."""

    type: Literal["job.succeeded"] = "job.succeeded"
    attempt: Annotated[int, Field(ge=0)]
    solution: str


class JobExhausted(_Ending):
    """The budget ran out without a confirmed pass."""

    type: Literal["job.exhausted"] = "job.exhausted"


class JobCancelled(_Ending):
    """The job stopped at a cancel request, between two phases."""

    type: Literal["job.cancelled"] = "job.cancelled"


class JobFailed(_Ending):
    """The job stopped on an error of ours (never a program's failure)."""

    type: Literal["job.failed"] = "job.failed"
    reason: str


Event = Annotated[
    JobQueued
    | JobStarted
    | RoundStarted
    | AttemptFinished
    | LearnerStep
    | AdapterPublished
    | JobSucceeded
    | JobExhausted
    | JobCancelled
    | JobFailed,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
# Every event type, in the union's order (what an SSE client must listen for by name).
EVENT_TYPES: tuple[str, ...] = tuple(
    member.model_fields["type"].default for member in get_args(get_args(Event)[0])
)
_ENDING_TYPES = {cls.model_fields["type"].default for cls in _Ending.__subclasses__()}
if _ENDING_TYPES != TERMINAL_TYPES:  # pragma: no cover - caught at import
    raise ImportError(f"ending events {sorted(_ENDING_TYPES)} are not {sorted(TERMINAL_TYPES)}")
EventT = TypeVar("EventT", bound=_Event)
