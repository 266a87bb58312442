"""The job routes: submit, read, list, attempts, cancel, adapter (docs/http-api.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from sqlalchemy.ext.asyncio import AsyncSession

from service.api.auth import Caller
from service.api.body import CheckedRoute
from service.api.deps import Now, State, StreamWho, Who
from service.api.files import RangedFile, check_range
from service.api.inputs import Cursor, IdempotencyKey, JobId, PageLimit
from service.api.limits import check_request
from service.api.schemas import AttemptPage, ErrorBody, JobCreated, JobPage, JobView, SolveRequest
from service.api.views import attempt_view, job_links, job_summary, job_view
from service.bus import JOBS_CHANNEL, job_channel
from service.errors import NotFound, TooManyActiveJobs
from service.store.adapters import latest_adapter, served_weights
from service.store.attempts import best_attempt, list_attempts
from service.store.jobs import (
    NewJob,
    create_job,
    find_idempotent_job,
    get_owned_job,
    list_jobs,
    request_cancel,
    request_hash,
    submit_job,
)
from service.store.models import Job
from service.store.quota import count_active_jobs_locked

router = APIRouter(tags=["jobs"], route_class=CheckedRoute)


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody} for code in codes}


@router.post(
    "/solve",
    status_code=202,
    response_model=JobCreated,
    responses=_errors(401, 413, 422, 429),
    summary="Submit a problem; the job runs until a confirmed pass or the budget's end",
)
async def solve(
    body: SolveRequest,
    state: State,
    who: Who,
    now: Now,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> JobCreated:
    check_request(body, state.settings.limits)
    new = NewJob(body, api_key_id=who.api_key_id)
    body_hash = request_hash(body.model_dump(mode="json"))
    async with state.sessions() as session, session.begin():
        job, made = await _make_job(session, new, now, idempotency_key, body_hash)
        if made:
            await _within_limit(session, who, state.settings.limits.max_active_jobs_per_key)
    state.metrics.submitted.inc()
    await state.bus.publish(JOBS_CHANNEL)
    return _created(job, response)


async def _make_job(
    session: AsyncSession, new: NewJob, now: datetime, key: str | None, body_hash: str
) -> tuple[Job, bool]:
    """The job for this submit, and whether it is new (a retried key finds its earlier job)."""
    if key is None:
        return await create_job(session, new, now=now, body_hash=body_hash), True
    earlier = await find_idempotent_job(session, new.api_key_id, key, body_hash)
    if earlier is not None:
        return earlier, False
    return await submit_job(session, new, now=now, key=key, body_hash=body_hash)


async def _within_limit(session: AsyncSession, who: Caller, limit: int) -> None:
    """Refuse the new job (rolling it back) if it takes the caller past `limit` active jobs.

    The job is inserted first and counted after, under the caller's lock (`store.quota`), so
    the lock is held only for the count and the commit: the count sees every job committed by
    an earlier holder, plus this one."""
    active = await count_active_jobs_locked(session, who.api_key_id)
    if active > limit:
        raise TooManyActiveJobs(f"{active - 1} jobs are queued or running; the limit is {limit}")


def _created(job: Job, response: Response) -> JobCreated:
    response.headers["Location"] = f"/jobs/{job.id}"
    return JobCreated(id=job.id, status=job.status, links=job_links(job.id))


@router.get("/jobs", response_model=JobPage, responses=_errors(401, 422))
async def jobs(
    state: State,
    who: Who,
    cursor: Cursor = None,
    limit: PageLimit = 50,
) -> JobPage:
    """The caller's jobs, newest first."""
    async with state.reads() as session:
        page = await list_jobs(session, who.api_key_id, cursor=cursor, limit=limit)
    return JobPage(data=[job_summary(job) for job in page.data], next_cursor=page.next_cursor)


@router.get("/jobs/{job_id}", response_model=JobView, responses=_errors(401, 404, 422))
async def job(job_id: JobId, state: State, who: Who) -> JobView:
    """Status, counts, the best attempt, and the solution once succeeded."""
    async with state.reads() as session:
        row = await get_owned_job(session, job_id, who.api_key_id)
        best = await best_attempt(session, job_id)
    return job_view(row, best)


@router.get("/jobs/{job_id}/attempts", response_model=AttemptPage, responses=_errors(401, 404, 422))
async def attempts(
    job_id: JobId,
    state: State,
    who: Who,
    cursor: Cursor = None,
    limit: PageLimit = 50,
) -> AttemptPage:
    """The job's attempts by index: code, verdicts and feedback."""
    async with state.reads() as session:
        await get_owned_job(session, job_id, who.api_key_id)
        page = await list_attempts(session, job_id, cursor=cursor, limit=limit)
    return AttemptPage(data=[attempt_view(a) for a in page.data], next_cursor=page.next_cursor)


@router.post(
    "/jobs/{job_id}/cancel",
    status_code=202,
    response_model=JobView,
    responses=_errors(401, 404, 409, 422),
)
async def cancel(job_id: JobId, state: State, who: Who, now: Now) -> JobView:
    """A queued job ends at once; a running one stops at its worker's next phase boundary; a
    finished one (cancelled included) is a 409."""
    async with state.sessions() as session, session.begin():
        await get_owned_job(session, job_id, who.api_key_id)
        row = await request_cancel(session, job_id, now=now)
        best = await best_attempt(session, job_id)
    await state.bus.publish(job_channel(job_id))
    return job_view(row, best)


@router.get(
    "/jobs/{job_id}/adapter",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        206: {"content": {"application/octet-stream": {}}, "description": "the `Range` asked"},
        **_errors(401, 404, 416, 422),
    },
)
async def adapter(
    job_id: JobId,
    state: State,
    request: Request,
    # A browser's download link cannot set headers: the key may come as `?access_token=`.
    who: StreamWho,
) -> FileResponse:
    """The job's newest LoRA adapter weights (safetensors; peft's key format); `Range` is
    honoured, an invalid one ignored (200), one past the end a 416."""
    async with state.reads() as session:
        await get_owned_job(session, job_id, who.api_key_id)
        row = await latest_adapter(session, job_id)
    served = None if row is None else served_weights(row, state.settings.adapters_dir)
    if served is None:
        raise NotFound(f"job {job_id} has no adapter (yet)")
    check_range(request.headers, served.path)
    return RangedFile(
        served.path,
        media_type="application/octet-stream",
        filename=f"{job_id}-v{served.version}.safetensors",
        headers={"X-Adapter-Version": str(served.version), "X-Adapter-Sha256": served.sha256},
    )
