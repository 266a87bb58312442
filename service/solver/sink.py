"""Where a solve's progress goes: one commit per event, with everything that event reports.

An `attempt.finished` event carries its attempt's record, an `adapter.published` event its
adapter, and every event the seconds the job has spent (across resumes). Committed together,
they stand or fall together: a crash leaves an attempt and its event, or neither, so a resumed
job neither loses an attempt nor counts one twice. The worker's sink is `jobs/recorder.py`;
`MemorySink` here keeps everything in lists (tests, benchmarks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from service.engine.types import AdapterRef
from service.solver.attempts import AttemptRecord
from service.solver.events import Event, EventT


class JobSink(Protocol):
    """Receives a job's commits in order, each before the solver goes on."""

    def commit(
        self,
        event: Event,
        *,
        attempt: AttemptRecord | None = None,
        adapter: AdapterRef | None = None,
        elapsed_s: float,
    ) -> None:
        """Persist or forward one event with the attempt or adapter it reports.

        May raise `stop.Stopped` when the job must be let go (its lease is lost)."""
        ...


@dataclass
class MemorySink:
    """Keeps every commit in lists: the events, the attempts, the adapters, the seconds."""

    events: list[Event] = field(default_factory=list)
    attempts: list[AttemptRecord] = field(default_factory=list)
    adapters: list[AdapterRef] = field(default_factory=list)
    elapsed_s: list[float] = field(default_factory=list)

    def commit(
        self,
        event: Event,
        *,
        attempt: AttemptRecord | None = None,
        adapter: AdapterRef | None = None,
        elapsed_s: float,
    ) -> None:
        """Append the event, and the attempt or adapter it reports."""
        self.events.append(event)
        if attempt is not None:
            self.attempts.append(attempt)
        if adapter is not None:
            self.adapters.append(adapter)
        self.elapsed_s.append(elapsed_s)

    def of(self, kind: type[EventT]) -> list[EventT]:
        """The events of one kind, in order."""
        return [event for event in self.events if isinstance(event, kind)]

    def types(self) -> list[str]:
        """The events' types, in order."""
        return [event.type for event in self.events]
