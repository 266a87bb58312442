"""The bus contract shared by the in-process and Redis buses."""

from __future__ import annotations

from typing import Protocol

JOBS_CHANNEL = "jobs"


def job_channel(job_id: str) -> str:
    """The channel that announces a job's new events and cancel requests."""
    return f"job:{job_id}"


class Subscription(Protocol):
    """One listener on one channel; wake-ups that arrive between waits are not lost."""

    async def wait(self, timeout_s: float) -> bool:
        """Wait for a wake-up; True if one arrived (since the last wait), False on timeout."""
        ...

    async def close(self) -> None:
        """Stop listening."""
        ...


class Bus(Protocol):
    """Publish wake-ups and subscribe to them."""

    async def publish(self, channel: str) -> None:
        """Wake every subscriber of `channel`; best-effort: a broker that is down is logged,
        never raised, since callers publish after their commit and waiters re-read anyway."""
        ...

    async def subscribe(self, channel: str) -> Subscription:
        """Start listening on `channel`; subscribe before reading the database, so a wake-up
        for a row committed in between is not missed."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
