"""The durable store: the database is the source of truth (docs/architecture.md §1).

One module per noun: `jobs` (and the moves that carry data), `attempts`, `events`,
`adapters`, `keys`; `claims` (leases), `quota` (the per-key limit) and `resume` (what a
claimed job restarts from). Repository functions take an `AsyncSession`, flush, and never
commit: the caller owns the transaction. Tables are in `models`, the lifecycle in `status`,
Alembic drives the schema (`migrate.upgrade_to_head`), and every process opens the store with
`connect.open_store(settings)`.
"""

from service.store.adapters import latest_adapter, record_adapter
from service.store.attempts import add_attempt, list_attempts, record_attempt
from service.store.claims import claim_next_job, release, renew_lease
from service.store.connect import Store, open_store
from service.store.db import Base, create_engine, engine_from_settings, make_sessionmaker
from service.store.errors import (
    IdempotencyConflict,
    InvalidCursor,
    InvalidTransition,
    JobAlreadyEnded,
    JobNotFound,
    LeaseLost,
    StoreError,
)
from service.store.events import append_event, count_starts, list_events_after, parse_event
from service.store.jobs import (
    NewJob,
    create_job,
    find_idempotent_job,
    get_job,
    list_jobs,
    request_hash,
    submit_job,
)
from service.store.keys import create_api_key, find_api_key
from service.store.migrate import upgrade_to_head, upgrade_to_head_async
from service.store.models import Adapter, ApiKey, Attempt, Event, IdempotencyKey, Job
from service.store.pagination import Page
from service.store.resume import ResumePoint, resume_point
from service.store.status import ALLOWED_TRANSITIONS, JobStatus, utcnow
from service.store.transitions import transition

__all__ = [
    "ALLOWED_TRANSITIONS",
    "Adapter",
    "ApiKey",
    "Attempt",
    "Base",
    "Event",
    "IdempotencyConflict",
    "IdempotencyKey",
    "InvalidCursor",
    "InvalidTransition",
    "Job",
    "JobAlreadyEnded",
    "JobNotFound",
    "JobStatus",
    "LeaseLost",
    "NewJob",
    "Page",
    "ResumePoint",
    "Store",
    "StoreError",
    "add_attempt",
    "append_event",
    "claim_next_job",
    "count_starts",
    "create_api_key",
    "create_engine",
    "create_job",
    "engine_from_settings",
    "find_api_key",
    "find_idempotent_job",
    "get_job",
    "latest_adapter",
    "list_attempts",
    "list_events_after",
    "list_jobs",
    "make_sessionmaker",
    "open_store",
    "parse_event",
    "record_adapter",
    "record_attempt",
    "release",
    "renew_lease",
    "request_hash",
    "resume_point",
    "submit_job",
    "transition",
    "upgrade_to_head",
    "upgrade_to_head_async",
    "utcnow",
]
