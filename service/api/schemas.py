"""The wire models of the HTTP API; they are the OpenAPI schema (docs/http-api.md).

The request of `POST /solve` is the job's own model (`solver.request.SolveRequest`, re-exported
here), so the API validates the very shape the store keeps and the solver reads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sandbox.results import Verdict
from service.config import SdpoParams as SdpoParams
from service.solver.budget import Budget, BudgetLeft
from service.solver.request import SamplingRequest as SamplingRequest
from service.solver.request import SolveRequest as SolveRequest
from service.solver.strategies import StrategyName
from service.store.status import JobStatus


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JobLinks(BaseModel):
    """Where to follow a job."""

    self: str
    attempts: str
    events: str
    websocket: str
    cancel: str
    adapter: str


class JobCreated(BaseModel):
    """`POST /solve`'s answer (202)."""

    id: str
    status: JobStatus
    links: JobLinks


class AttemptSummary(BaseModel):
    """An attempt in a job's view."""

    index: int
    round: int
    verdict: Verdict
    passed: int
    total: int


class JobView(BaseModel):
    """`GET /jobs/{id}`."""

    id: str
    status: JobStatus
    strategy: StrategyName
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts_used: int
    rounds: int
    budget: Budget
    best_attempt: AttemptSummary | None
    discovery_index: int | None
    solution: str | None
    adapter_version: int
    failure_reason: str | None
    cancel_requested: bool
    worker: str | None = Field(
        default=None, description="the worker holding the job while it runs (null otherwise)"
    )
    metadata: dict[str, Any]
    links: JobLinks


class JobSummary(BaseModel):
    """A job in `GET /jobs`."""

    id: str
    status: JobStatus
    strategy: StrategyName
    created_at: datetime
    finished_at: datetime | None
    attempts_used: int
    max_attempts: int
    worker: str | None = Field(
        default=None, description="the worker holding the job while it runs (null otherwise)"
    )
    metadata: dict[str, Any]


class AttemptView(BaseModel):
    """`GET /jobs/{id}/attempts` items: the program, its verdicts and its feedback."""

    index: int
    round: int
    verdict: Verdict
    public_verdict: Verdict
    confirmation: str
    passed: int
    total: int
    code: str | None = Field(description="the code that was judged")
    dropped: str = Field(
        description="the top-level test code left out of `code` (asserts, demonstration "
        "calls, prints, a main guard); empty when nothing was"
    )
    response: str
    feedback: str
    tokens: int
    truncated: bool
    created_at: datetime


class JobPage(BaseModel):
    """A page of jobs."""

    data: list[JobSummary]
    next_cursor: str | None


class AttemptPage(BaseModel):
    """A page of attempts."""

    data: list[AttemptView]
    next_cursor: str | None


class EventView(BaseModel):
    """An event as SSE `data:` and WebSocket messages carry it (docs/http-api.md, "Events")."""

    model_config = ConfigDict(extra="allow")

    job_id: str
    seq: int
    at: datetime
    type: str
    attempts_used: int
    budget_left: BudgetLeft


class ErrorDetail(BaseModel):
    """What went wrong, and which field (dotted path or header name) it was."""

    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    """Every error answers in this shape."""

    error: ErrorDetail


class Health(BaseModel):
    """`/healthz` and `/readyz`."""

    status: Literal["ok", "unavailable"]
    checks: dict[str, bool] = Field(default_factory=dict)


class CancelMessage(_Request):
    """The one message a WebSocket client may send."""

    type: Literal["cancel"]


class WsError(ErrorBody):
    """An error sent on the WebSocket; its `type` tells it from events."""

    type: Literal["error"] = "error"
