"""The in-process worker's figures on /metrics: jobs held, and its shared sampler's batches."""

from __future__ import annotations

from typing import Any, cast

from service.api.metrics import render_worker
from service.engine.sharing import BatchStats
from service.jobs.worker import Worker


class HoldingWorker:
    def __init__(self, held: tuple[str, ...], stats: BatchStats | None) -> None:
        self._held, self._stats = held, stats

    def held_job_ids(self) -> tuple[str, ...]:
        return self._held

    def sampling_stats(self) -> BatchStats | None:
        return self._stats


def render(worker: Any) -> str:
    return render_worker(cast(Worker, worker)).decode()


def test_a_worker_sharing_its_sampler_reports_jobs_held_and_batch_sizes() -> None:
    text = render(
        HoldingWorker(("a", "b", "c"), BatchStats(batches=7, last_rows=24, last_requests=3))
    )
    assert "retrospect_worker_jobs_held 3.0" in text
    assert "retrospect_sampling_batch_rows 24.0" in text
    assert "retrospect_sampling_batch_jobs 3.0" in text
    assert "retrospect_sampling_batches 7.0" in text


def test_a_one_job_worker_reports_no_batches() -> None:
    text = render(HoldingWorker(("a",), None))
    assert "retrospect_worker_jobs_held 1.0" in text
    assert "retrospect_sampling" not in text
