"""The store on a real database: SQLite (a temp file) and Postgres (a throwaway database).

Coroutines run under `asyncio.run` inside plain tests (no pytest-asyncio), one event loop per
test, so each test opens and disposes its own engine. Postgres: one uniquely named database per
session, migrated once, truncated after each test. Truncation rather than a rolled-back
transaction per test because the concurrency tests need many connections that commit.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sandbox.problem import Problem
from sandbox.results import Verdict
from service.config import Settings
from service.solver.attempts import AttemptRecord, Confirmation
from service.solver.budget import Budget, BudgetLeft
from service.solver.events import AttemptFinished, RoundStarted
from service.solver.request import SolveRequest
from service.store import (
    ALLOWED_TRANSITIONS,
    Base,
    IdempotencyConflict,
    InvalidCursor,
    InvalidTransition,
    Job,
    JobStatus,
    LeaseLost,
    NewJob,
    add_attempt,
    append_event,
    claim_next_job,
    create_api_key,
    create_engine,
    create_job,
    find_api_key,
    get_job,
    latest_adapter,
    list_attempts,
    list_events_after,
    list_jobs,
    make_sessionmaker,
    parse_event,
    record_adapter,
    release,
    renew_lease,
    submit_job,
    transition,
    upgrade_to_head,
)
from service.store.db import ensure_sqlite_dir
from service.store.migrate import alembic_config
from tests.integration.service.databases import fresh_postgres_database, pg_execute

EXAMPLE = Path(__file__).parents[4] / "examples" / "sum_evens.json"
TABLES = {"api_keys", "jobs", "attempts", "events", "adapters", "idempotency_keys"}
T0 = datetime(2026, 1, 1, tzinfo=UTC)
T = TypeVar("T")
Sessions = async_sessionmaker[AsyncSession]


# --- plumbing ---------------------------------------------------------------------------------


def run(url: str, scenario: Callable[[Sessions], Awaitable[T]]) -> T:
    """Run `scenario` with sessions on `url`, in a fresh event loop."""

    async def main() -> T:
        # a pool as large as the widest fan-out below, so concurrency is real on Postgres
        engine = create_engine(url, pool_size=25) if "postgresql" in url else create_engine(url)
        try:
            return await scenario(make_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        upgrade_to_head(Settings(database_url=url))
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("sqlite-template")
    upgrade_to_head(Settings(data_dir=data_dir))
    return data_dir / "retrospect.db"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each dialect."""
    if request.param == "sqlite":
        path = tmp_path / "retrospect.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url: str = request.getfixturevalue("postgres_url")
    yield url
    asyncio.run(pg_execute(url, f"TRUNCATE {', '.join(sorted(TABLES))} CASCADE"))


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


# --- migrations -------------------------------------------------------------------------------


def _schema_diff(connection: Connection) -> tuple[set[str], list[Any]]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    tables = set(inspect(connection).get_table_names()) - {"alembic_version"}
    return tables, compare_metadata(context, Base.metadata)


def check_migration(settings: Settings) -> None:
    """Upgrade an empty database, compare it with the models, and downgrade it again."""
    url = settings.resolved_database_url
    upgrade_to_head(settings)

    async def diff(sessions: Sessions) -> tuple[set[str], list[Any]]:
        async with sessions() as session:
            connection = await session.connection()
            return await connection.run_sync(_schema_diff)

    tables, differences = run(url, diff)
    assert tables == TABLES
    assert differences == [], "models and migrations disagree; write a migration"
    command.downgrade(alembic_config(settings), "base")
    assert run(url, diff)[0] == set()


def test_migration_applies_to_an_empty_sqlite_file(tmp_path: Path) -> None:
    check_migration(Settings(data_dir=tmp_path / "fresh"))


@pytest.mark.postgres
def test_migration_applies_to_an_empty_postgres_database() -> None:
    with fresh_postgres_database() as url:
        check_migration(Settings(database_url=url))


def test_the_elapsed_seconds_migration_keeps_rows_and_downgrades(tmp_path: Path) -> None:
    """0002 adds `jobs.elapsed_seconds` to a table with rows (they start at 0) and drops it on
    downgrade, the rows kept."""
    settings = Settings(data_dir=tmp_path / "upgrade")
    config = alembic_config(settings)
    ensure_sqlite_dir(settings.resolved_database_url)
    command.upgrade(config, "0001")
    sync_url = settings.resolved_database_url.replace("sqlite+aiosqlite", "sqlite")
    engine = sa.create_engine(sync_url)
    row = {
        "id": "old",
        "status": "running",
        "strategy": "sdpo",
        "problem": "{}",
        "budget": "{}",
        "sdpo": "{}",
        "sampling": "{}",
        "metadata": "{}",
        "attempts_used": 3,
        "rounds": 1,
        "adapter_version": 0,
        "last_event_seq": 4,
        "cancel_requested": False,
        "created_at": T0,
    }
    try:
        with engine.begin() as connection:
            connection.execute(sa.table("jobs", *map(sa.column, row)).insert().values(**row))
        command.upgrade(config, "head")
        with engine.connect() as connection:
            seconds = connection.execute(sa.text("SELECT elapsed_seconds FROM jobs")).scalar_one()
        assert seconds == 0.0
        command.downgrade(config, "0001")
        columns = {c["name"] for c in sa.inspect(engine).get_columns("jobs")}
        assert "elapsed_seconds" not in columns and "rounds" in columns
        with engine.connect() as connection:
            ids = connection.execute(sa.text("SELECT id FROM jobs")).scalars().all()
        assert ids == ["old"]
    finally:
        engine.dispose()


# --- events -----------------------------------------------------------------------------------


def test_event_seqs_count_from_one_per_job(db_url: str) -> None:
    async def scenario(sessions: Sessions) -> None:
        first, second = await new_job(sessions), await new_job(sessions)
        async with sessions.begin() as session:
            for round_ in range(3):
                await append_event(session, first, round_started(round_), now=T0)
            await append_event(session, second, round_started(0), now=T0)
        async with sessions() as session:
            events = await list_events_after(session, first)
            assert [event.seq for event in events] == [1, 2, 3, 4]
            assert [event.type for event in events][:2] == ["job.queued", "round.started"]
            assert parse_event(events[-1]) == round_started(2)
            assert [e.seq for e in await list_events_after(session, first, 2)] == [3, 4]
            assert [e.seq for e in await list_events_after(session, second)] == [1, 2]

    run(db_url, scenario)


def test_concurrent_appenders_never_duplicate_a_seq(db_url: str) -> None:
    appenders = 20

    async def append_one(sessions: Sessions, job_id: str, index: int) -> None:
        event = AttemptFinished(
            attempts_used=index + 1,
            budget_left=BudgetLeft(attempts=0, seconds=1.0),
            index=index,
            verdict=Verdict.ACCEPTED,
            passed=1,
            total=1,
        )
        async with sessions.begin() as session:
            await append_event(session, job_id, event, now=T0)

    async def scenario(sessions: Sessions) -> None:
        job_id = await new_job(sessions)
        await asyncio.gather(*(append_one(sessions, job_id, i) for i in range(appenders)))
        async with sessions() as session:
            events = await list_events_after(session, job_id)
        assert [event.seq for event in events] == list(range(1, appenders + 2))
        indexes = sorted(event.payload["index"] for event in events[1:])
        assert indexes == list(range(appenders))

    run(db_url, scenario)


# --- claims and leases ------------------------------------------------------------------------


def test_two_workers_never_claim_the_same_job(db_url: str) -> None:
    jobs, workers = 4, 10

    async def claim(sessions: Sessions, worker: str) -> str | None:
        async with sessions.begin() as session:
            job = await claim_next_job(session, worker, 30.0, T0)
            return None if job is None else job.id

    async def scenario(sessions: Sessions) -> None:
        created = {await new_job(sessions, T0 + timedelta(seconds=i)) for i in range(jobs)}
        claimed = await asyncio.gather(*(claim(sessions, f"w{i}") for i in range(workers)))
        taken = [job_id for job_id in claimed if job_id is not None]
        assert sorted(taken) == sorted(created)

    run(db_url, scenario)


def test_an_expired_lease_is_claimed_again_and_a_live_one_is_not(db_url: str) -> None:
    async def claim(sessions: Sessions, worker: str, at: datetime) -> Job | None:
        async with sessions.begin() as session:
            return await claim_next_job(session, worker, 30.0, at)

    async def scenario(sessions: Sessions) -> None:
        job_id = await new_job(sessions)
        first = await claim(sessions, "a", T0)
        assert first is not None and first.id == job_id and first.lease_owner == "a"
        assert first.status is JobStatus.RUNNING and first.started_at == T0
        assert await claim(sessions, "b", T0 + timedelta(seconds=29)) is None
        again = await claim(sessions, "b", T0 + timedelta(seconds=31))
        assert again is not None and again.id == job_id and again.lease_owner == "b"
        assert again.started_at == T0, "a resumed job keeps its first start"
        await check_lease_owner(sessions, job_id)

    run(db_url, scenario)


async def check_lease_owner(sessions: Sessions, job_id: str) -> None:
    """Only the lease's owner renews or releases it; a release may requeue the job."""
    later = T0 + timedelta(seconds=40)
    async with sessions.begin() as session:
        with pytest.raises(LeaseLost):
            await renew_lease(session, job_id, "a", 30.0, later)
        renewed = await renew_lease(session, job_id, "b", 30.0, later)
        assert renewed.lease_expires_at == later + timedelta(seconds=30)
    async with sessions.begin() as session:
        with pytest.raises(LeaseLost):
            await release(session, job_id, "a")
        released = await release(session, job_id, "b", requeue=True)
        assert released.status is JobStatus.QUEUED and released.lease_owner is None


def test_transitions_follow_the_table_and_reject_illegal_moves() -> None:
    for current in JobStatus:
        for to in JobStatus:
            job = Job(id="j", status=current, lease_owner="w")
            if to in ALLOWED_TRANSITIONS[current]:
                transition(job, to, now=T0)
                assert job.status is to
                assert (job.finished_at == T0) == (to not in {JobStatus.QUEUED, JobStatus.RUNNING})
            else:
                with pytest.raises(InvalidTransition):
                    transition(job, to, now=T0)
                assert job.status is current


def test_a_terminal_transition_persists(db_url: str) -> None:
    async def scenario(sessions: Sessions) -> None:
        job_id = await new_job(sessions)
        async with sessions.begin() as session:
            job = await get_job(session, job_id, for_update=True)
            with pytest.raises(InvalidTransition):
                transition(job, JobStatus.SUCCEEDED)
            transition(job, JobStatus.CANCELLED, now=T0)
        async with sessions() as session:
            job = await get_job(session, job_id)
            assert job.status is JobStatus.CANCELLED and job.finished_at == T0

    run(db_url, scenario)


# --- idempotency, attempts, adapters, keys ----------------------------------------------------


def test_an_idempotency_key_returns_the_same_job(db_url: str) -> None:
    async def submit(sessions: Sessions, body_hash: str, **overrides: Any) -> tuple[str, bool]:
        async with sessions.begin() as session:
            new = make_new_job(**overrides)
            job, created = await submit_job(session, new, now=T0, key="k1", body_hash=body_hash)
            return job.id, created

    async def scenario(sessions: Sessions) -> None:
        results = await asyncio.gather(*(submit(sessions, "h" * 64) for _ in range(5)))
        assert len({job_id for job_id, _ in results}) == 1
        assert sorted(created for _, created in results) == [False] * 4 + [True]
        with pytest.raises(IdempotencyConflict):
            await submit(sessions, "x" * 64)
        async with sessions.begin() as session:
            key, _ = await create_api_key(session, "other", now=T0)
        other, created = await submit(sessions, "h" * 64, api_key_id=key.id)
        assert created and other != results[0][0], "keys are scoped per caller"

    run(db_url, scenario)


def test_attempts_are_unique_per_job_and_index(db_url: str) -> None:
    async def scenario(sessions: Sessions) -> None:
        job_id, other = await new_job(sessions), await new_job(sessions)
        async with sessions.begin() as session:
            await add_attempt(session, job_id, make_attempt(0), now=T0)
            await add_attempt(session, other, make_attempt(0), now=T0)
        with pytest.raises(IntegrityError):
            async with sessions.begin() as session:
                await add_attempt(session, job_id, make_attempt(0), now=T0)

    run(db_url, scenario)


def test_cursor_pagination_returns_every_row_once_in_order(db_url: str) -> None:
    async def scenario(sessions: Sessions) -> None:
        job_id = await new_job(sessions)
        async with sessions.begin() as session:
            for index in range(7):
                await add_attempt(session, job_id, make_attempt(index), now=T0)
        # equal created_at values on purpose: the id breaks the tie
        jobs = [await new_job(sessions, T0 + timedelta(seconds=i // 2)) for i in range(5)]
        async with sessions() as session:
            attempts = await collect(lambda c: list_attempts(session, job_id, cursor=c, limit=3))
            assert [attempt.index for attempt in attempts] == list(range(7))
            listed = await collect(lambda c: list_jobs(session, None, cursor=c, limit=2))
            assert sorted(job.id for job in listed) == sorted([job_id, *jobs])
            keys = [(job.created_at, job.id) for job in listed]
            assert keys == sorted(keys, reverse=True), "newest first, each job once"
            with pytest.raises(InvalidCursor):
                await list_jobs(session, None, cursor="not-a-cursor")

    run(db_url, scenario)


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


def test_adapters_and_api_keys(db_url: str) -> None:
    async def scenario(sessions: Sessions) -> None:
        job_id = await new_job(sessions)
        async with sessions.begin() as session:
            for version in (1, 2):
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
            key, plaintext = await create_api_key(session, "ci", now=T0)
        async with sessions() as session:
            assert (await get_job(session, job_id)).adapter_version == 2
            latest = await latest_adapter(session, job_id)
            assert latest is not None and latest.version == 2
            found = await find_api_key(session, plaintext)
            assert found is not None and found.id == key.id
            assert await find_api_key(session, plaintext + "x") is None

    run(db_url, scenario)
