"""What the store raises.

StoreError
├── JobNotFound            no job with that id
├── InvalidTransition      a status move that ALLOWED_TRANSITIONS forbids
├── IdempotencyConflict    a reused Idempotency-Key with a different request body
├── LeaseLost              the worker no longer holds the job's lease
└── InvalidCursor          a pagination cursor that this store did not write
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of the store's errors."""


class JobNotFound(StoreError):
    """No job has this id."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} not found")
        self.job_id = job_id


class InvalidTransition(StoreError):
    """A job may not move from its status to the one asked for."""

    def __init__(self, job_id: str, current: str, to: str) -> None:
        super().__init__(f"job {job_id} cannot move from {current} to {to}")
        self.job_id, self.current, self.to = job_id, current, to


class IdempotencyConflict(StoreError):
    """The idempotency key was used before with a different request."""

    def __init__(self, key: str, job_id: str) -> None:
        super().__init__(f"idempotency key {key!r} was used for job {job_id} with another body")
        self.key, self.job_id = key, job_id


class LeaseLost(StoreError):
    """The worker's lease lapsed and the job is someone else's (or finished)."""

    def __init__(self, job_id: str, worker_id: str) -> None:
        super().__init__(f"worker {worker_id} no longer holds the lease of job {job_id}")
        self.job_id, self.worker_id = job_id, worker_id


class InvalidCursor(StoreError):
    """A pagination cursor that does not decode."""

    def __init__(self, cursor: str) -> None:
        super().__init__(f"invalid cursor {cursor!r}")
        self.cursor = cursor
