"""The event bus: wake-ups between the processes of a deployment (docs/architecture.md §1).

A message carries no data, only "look again": the database is the source of truth. A worker
announces on `job_channel(id)` after it commits an event, so API replicas read the new rows
at once instead of polling; the API announces on `JOBS_CHANNEL` after it commits a job, so an
idle worker claims it at once; a cancel request is announced on the job's channel, so the
worker holding the job sees it at its next heartbeat instead of a lease period later.
Missing a wake-up costs latency, never correctness: every waiter also re-reads on a timeout.
"""

from service.bus.base import JOBS_CHANNEL, Bus, Subscription, job_channel
from service.bus.factory import make_bus
from service.bus.memory import MemoryBus

__all__ = ["JOBS_CHANNEL", "Bus", "MemoryBus", "Subscription", "job_channel", "make_bus"]
