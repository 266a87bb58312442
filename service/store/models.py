"""The tables: api keys, jobs, and each job's attempts, events, adapters and idempotency keys.

Children use the natural composite primary key (`job_id`, `index` / `seq` / `version`), which
is also the uniqueness rule and the order every list reads in. JSON columns use the portable
`JSON` type (JSON on Postgres, TEXT on SQLite). Statuses are VARCHAR with a CHECK rather than a
native Postgres enum, so adding a status is a plain migration on both dialects.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.store.db import Base
from service.store.status import JobStatus

ID_LENGTH = 36  # a UUID's text form
SHA256_HEX_LENGTH = 64


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on both dialects.

    SQLite has no timezone type and hands back naive datetimes; this stores UTC and reads it
    back aware, so lease comparisons and API output never mix naive and aware values.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps UTC only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


JOB_STATUS = Enum(
    JobStatus,
    name="job_status",
    native_enum=False,
    create_constraint=True,
    length=16,
    values_callable=lambda statuses: [status.value for status in statuses],
)


class ApiKey(Base):
    """A caller's key; only its SHA-256 is stored."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_sha256: Mapped[str] = mapped_column(String(SHA256_HEX_LENGTH), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Job(Base):
    """One problem being solved: the request, its progress, its outcome and its lease."""

    __tablename__ = "jobs"
    __table_args__ = (
        # claiming scans queued jobs and running jobs whose lease lapsed
        Index("ix_jobs_claim", "status", "lease_expires_at"),
        # GET /jobs lists one key's jobs newest first
        Index("ix_jobs_listing", "api_key_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    api_key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"))
    status: Mapped[JobStatus] = mapped_column(JOB_STATUS)
    # `POST /solve`'s request as one value (`stored_request`); no query filters its parts.
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempts_used: Mapped[int] = mapped_column(Integer, default=0)
    rounds: Mapped[int] = mapped_column(Integer, default=0)
    # Seconds the solver spent on the job across all its runs, written with each event; a
    # resumed job's clock starts from here (`BudgetUse.prior_seconds`).
    elapsed_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    discovery_index: Mapped[int | None] = mapped_column(Integer)
    solution: Mapped[str | None] = mapped_column(Text)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    adapter_version: Mapped[int] = mapped_column(Integer, default=0)
    last_event_seq: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    request_hash: Mapped[str | None] = mapped_column(String(SHA256_HEX_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Attempt(Base):
    """One judged attempt of a job (`AttemptRecord`), numbered from 0."""

    __tablename__ = "attempts"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    index: Mapped[int] = mapped_column(Integer, primary_key=True)
    round: Mapped[int] = mapped_column(Integer)
    response: Mapped[str] = mapped_column(Text)
    code: Mapped[str | None] = mapped_column(Text)
    verdict: Mapped[str] = mapped_column(String(32))
    public_verdict: Mapped[str] = mapped_column(String(32))
    confirmation: Mapped[str] = mapped_column(String(32))
    passed: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    feedback: Mapped[str] = mapped_column(Text)
    tokens: Mapped[int] = mapped_column(Integer)
    truncated: Mapped[bool] = mapped_column(Boolean)
    dropped: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Event(Base):
    """One event of a job; `seq` counts 1, 2, 3, ... per job and is the SSE id."""

    __tablename__ = "events"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class Adapter(Base):
    """A published version of a job's LoRA adapter.

    `int_id` is the id the publishing worker's sampler used; it is unique only inside that
    worker's process, so a worker that resumes the job mints its own.
    """

    __tablename__ = "adapters"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    int_id: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(SHA256_HEX_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class IdempotencyKey(Base):
    """An `Idempotency-Key` seen from one caller (`scope`), and the job it created."""

    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(SHA256_HEX_LENGTH))
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
