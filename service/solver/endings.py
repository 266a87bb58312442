"""How a job can end: the one list of endings, and the event type that announces each.

Everything else that names an ending derives from `OutcomeStatus`: the terminal event types
(`TERMINAL_TYPES`), the store's terminal `JobStatus` members and its status for each event,
and the dashboard's constants (served by the API as `/ui/js/events.js`).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class OutcomeStatus(StrEnum):
    """How a solve ended; the job's terminal status."""

    SUCCEEDED = "succeeded"
    EXHAUSTED = "exhausted"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def event_type(self) -> str:
        """The type of the event that ends a job this way, e.g. `job.succeeded`."""
        return f"job.{self.value}"


ENDING_OF_TYPE: Mapping[str, OutcomeStatus] = {
    ending.event_type: ending for ending in OutcomeStatus
}
TERMINAL_TYPES = frozenset(ENDING_OF_TYPE)
