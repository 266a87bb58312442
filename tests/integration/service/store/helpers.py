"""What the store's tests share: running a scenario on a database, and rows to write.

Coroutines run under `asyncio.run` inside plain tests (no pytest-asyncio), one event loop per
test, so each test opens and disposes its own engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sandbox.problem import Problem
from sandbox.results import Verdict
from service.solver.attempts import AttemptRecord, Confirmation
from service.solver.budget import Budget, BudgetLeft
from service.solver.events import RoundStarted
from service.solver.request import SolveRequest
from service.store import NewJob, create_engine, create_job, make_sessionmaker, record_adapter

EXAMPLE = Path(__file__).parents[4] / "examples" / "sum_evens.json"
TABLES = {"api_keys", "jobs", "attempts", "events", "adapters", "idempotency_keys"}
T0 = datetime(2026, 1, 1, tzinfo=UTC)
T = TypeVar("T")
Sessions = async_sessionmaker[AsyncSession]


def run(url: str, scenario: Callable[[Sessions], Awaitable[T]]) -> T:
    """Run `scenario` with sessions on `url`, in a fresh event loop."""

    async def main() -> T:
        # a pool as large as the widest fan-out of the tests, so concurrency is real on Postgres
        engine = create_engine(url, pool_size=25) if "postgresql" in url else create_engine(url)
        try:
            return await scenario(make_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())


def make_new_job(**overrides: Any) -> NewJob:
    fields: dict[str, Any] = {
        "problem": Problem.model_validate_json(EXAMPLE.read_text()),
        "budget": Budget(max_attempts=8, attempts_per_round=4),
    }
    api_key_id = overrides.pop("api_key_id", None)
    return NewJob(SolveRequest(**(fields | overrides)), api_key_id=api_key_id)


def make_attempt(index: int, **overrides: Any) -> AttemptRecord:
    fields: dict[str, Any] = {
        "index": index,
        "round": index // 4,
        "response": f"```python\nprint({index})\n```",
        "code": f"print({index})",
        "verdict": Verdict.WRONG_ANSWER,
        "public_verdict": Verdict.WRONG_ANSWER,
        "passed": 1,
        "total": 3,
        "confirmation": Confirmation.NOT_RUN,
        "feedback": "case 2: expected 4, got 3",
        "tokens": 17,
        "truncated": False,
    }
    return AttemptRecord(**(fields | overrides))


def round_started(round_: int) -> RoundStarted:
    return RoundStarted(
        attempts_used=0, budget_left=BudgetLeft(attempts=8, seconds=60.0), round=round_, attempts=4
    )


async def new_job(sessions: Sessions, now: datetime = T0, **overrides: Any) -> str:
    async with sessions.begin() as session:
        job = await create_job(session, make_new_job(**overrides), now=now)
        return job.id


async def collect(fetch: Callable[[str | None], Awaitable[Any]]) -> list[Any]:
    """Every row of a paginated list, following `next_cursor` to the end."""
    rows: list[Any] = []
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        rows.extend(page.data)
        if page.next_cursor is None:
            return rows
        cursor = page.next_cursor


async def record_versions(session: AsyncSession, job_id: str, versions: tuple[int, ...]) -> None:
    """Adapter rows for `versions` of a job, each named and numbered by its version."""
    for version in versions:
        await record_adapter(
            session,
            job_id,
            version=version,
            name=f"{job_id}-v{version}",
            int_id=version,
            path=f"/a/{version}",
            sha256="0" * 64,
            now=T0,
        )
