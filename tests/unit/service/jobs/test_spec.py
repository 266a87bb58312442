"""The solver's `Resume` from the store's resume point: the counts and feedback as stored, the
adapter with a sampler id of this process."""

from __future__ import annotations

from pathlib import Path

from service.jobs.spec import resume_from
from service.store import Adapter, ResumePoint


def point(adapter: Adapter | None) -> ResumePoint:
    return ResumePoint(
        start_attempt=5,
        start_round=2,
        feedback_history=("a", "b"),
        adapter=adapter,
        elapsed_seconds=12.5,
        starts=3,
    )


def test_a_resume_keeps_the_stored_counts_feedback_and_seconds() -> None:
    resume = resume_from("j", point(None))
    assert (resume.start_attempt, resume.start_round) == (5, 2)
    assert resume.feedback_history == ("a", "b") and resume.elapsed_seconds == 12.5
    assert resume.adapter is None


def test_the_newest_adapter_gets_a_fresh_sampler_id_per_resume() -> None:
    row = Adapter(job_id="j", version=2, name="j-v2", int_id=7, path="/a/2", sha256="0" * 64)
    first, second = resume_from("j", point(row)).adapter, resume_from("j", point(row)).adapter
    assert first is not None and second is not None
    assert (first.job_id, first.version, first.name) == ("j", 2, "j-v2")
    assert first.path == Path("/a/2") and first.sha256 == "0" * 64
    assert first.int_id != second.int_id, "ids are minted by this process, not stored"
