"""The endings are listed once (`OutcomeStatus`); the rest derives from them."""

from __future__ import annotations

from service.api.ui import events_module
from service.solver.endings import ENDING_OF_TYPE, TERMINAL_TYPES, OutcomeStatus
from service.solver.events import EVENT_TYPES
from service.store.status import ACTIVE, TERMINAL, JobStatus, ending_status


def test_each_ending_has_its_event_type_and_its_job_status() -> None:
    assert {"job.succeeded", "job.exhausted", "job.cancelled", "job.failed"} == TERMINAL_TYPES
    assert {ending.value for ending in OutcomeStatus} == {status.value for status in TERMINAL}
    assert {JobStatus.QUEUED, JobStatus.RUNNING} == ACTIVE
    assert ENDING_OF_TYPE["job.failed"] is OutcomeStatus.FAILED
    assert ending_status("job.exhausted") is JobStatus.EXHAUSTED
    assert ending_status("round.started") is None
    assert set(EVENT_TYPES) >= TERMINAL_TYPES and EVENT_TYPES[0] == "job.queued"


def test_the_dashboard_module_is_written_from_the_same_facts() -> None:
    module = events_module()
    assert 'export const TERMINAL = {"job.succeeded": "succeeded", ' in module
    assert '"job.failed": "failed"}' in module
    assert 'export const ACTIVE_STATUSES = ["queued", "running"];' in module
    assert "export const EVENT_TYPES = [" + ", ".join(f'"{t}"' for t in EVENT_TYPES) in module
