"""What the store raises; part of the service's one hierarchy (`service.errors`).

StoreError
├── JobNotFound            404  no job with that id
├── InvalidTransition      409  a status move that ALLOWED_TRANSITIONS forbids
├── JobAlreadyEnded        409  cancelling a job that has ended (a cancelled one included)
├── IdempotencyConflict    422  a reused Idempotency-Key with a different request body
├── LeaseLost              409  the worker no longer holds the job's lease
└── InvalidCursor          422  a pagination cursor that this store did not write
"""

from __future__ import annotations

from service.errors import ServiceError


class StoreError(ServiceError):
    """Base of the store's errors."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field)


class JobNotFound(StoreError):
    """No job has this id."""

    status_code, code = 404, "not_found"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} not found")
        self.job_id = job_id


class InvalidTransition(StoreError):
    """A job may not move from its status to the one asked for."""

    status_code, code = 409, "invalid_transition"

    def __init__(self, job_id: str, current: str, to: str) -> None:
        super().__init__(f"job {job_id} cannot move from {current} to {to}")
        self.job_id, self.current, self.to = job_id, current, to


class JobAlreadyEnded(StoreError):
    """A cancel asked of a job that has ended: there is nothing left to stop."""

    status_code, code = 409, "conflict"

    def __init__(self, job_id: str, status: str) -> None:
        super().__init__(f"job {job_id} already ended as {status}")
        self.job_id, self.status = job_id, status


class IdempotencyConflict(StoreError):
    """The idempotency key was used before with a different request."""

    status_code, code = 422, "idempotency_key_reused"

    def __init__(self, key: str, job_id: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was used before with a different request body",
            field="Idempotency-Key",
        )
        self.key, self.job_id = key, job_id


class LeaseLost(StoreError):
    """The worker's lease lapsed and the job is someone else's (or finished)."""

    status_code, code = 409, "lease_lost"

    def __init__(self, job_id: str, worker_id: str) -> None:
        super().__init__(f"worker {worker_id} no longer holds the lease of job {job_id}")
        self.job_id, self.worker_id = job_id, worker_id


class InvalidCursor(StoreError):
    """A pagination cursor that does not decode."""

    status_code, code = 422, "invalid_cursor"

    def __init__(self, cursor: str) -> None:
        super().__init__(f"invalid cursor {cursor!r}", field="cursor")
        self.cursor = cursor
