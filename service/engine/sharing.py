"""One sampler shared by the jobs of a worker: concurrent rounds go to the model as one batch.

Each held job's solver thread calls `sample` as it would on a sampler of its own, through its
seat (`seat(job_id)`, held for the whole solve). The first request waits for the model to be
free (`run_on`: the transformers sampler runs on the torch thread, behind the learner steps
queued there), then for every seated job to ask too, but no longer than a quarter of the last
batch's time; every request waiting at that moment goes to the batch sampler's `sample_many`
together, and each thread gets its own samples back. A batch split in two costs the fixed part
of a whole batch (on this CPU a quarter of one of 32 rows), so waiting longer than that for a
late job costs more than it saves, and a job stuck in a slow sandbox never holds the others
up for more. Requests that arrive while a batch runs form the next one, so no job waits for
more than the batch before it. Requests with different stop strings are not mixed (they go in
consecutive batches). Without seats the first request waits `window_s` for the others.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from service.engine.types import (
    AdapterRef,
    BatchSampler,
    Sample,
    Sampler,
    SampleRequest,
    SamplingParams,
)

# Jobs that start together reach their first sample a few hundred milliseconds apart on a
# busy 2-core host (prompt rendering under the GIL); a CPU batch takes 10 s or more, a GPU
# batch seconds, so waiting this long costs a few percent at most.
DEFAULT_WINDOW_S = 0.2
# The longest wait for a seated job that has not asked yet, as a share of the last batch's time.
STRAGGLER_SHARE = 0.25

RunOn = Callable[[Callable[[], None]], None]


def _run_here(fn: Callable[[], None]) -> None:
    fn()


def _nothing() -> None:
    """Run on the model's thread only to wait until the work queued there is done."""


@dataclass
class _Ticket:
    """A request waiting for its batch, and what the batch handed back for it."""

    request: SampleRequest
    seat: str | None = None  # the asking job's seat
    wake: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # this ticket's thread is to run the next batch
    samples: list[Sample] | None = None
    error: BaseException | None = None

    @property
    def answered(self) -> bool:
        return self.samples is not None or self.error is not None


@dataclass(frozen=True)
class BatchStats:
    """What the shared sampler has done so far: batches run, rows in the last one."""

    batches: int
    last_rows: int
    last_requests: int
    last_seconds: float = 0.0


class SharedSampler:
    """A `Sampler` over a `BatchSampler`, batching the requests of concurrent jobs."""

    def __init__(
        self,
        inner: BatchSampler,
        *,
        window_s: float = DEFAULT_WINDOW_S,
        run_on: RunOn = _run_here,
    ) -> None:
        self.inner = inner
        self.window_s = window_s
        self.run_on = run_on
        self._lock = threading.Condition()
        self._pending: list[_Ticket] = []
        self._leader_busy = False
        self._seats: set[str] = set()
        self._stats = BatchStats(0, 0, 0)

    @contextmanager
    def seat(self, job_id: str) -> Iterator[Sampler]:
        """A job's sampler for its whole solve: batches wait a while for a seated job."""
        with self._lock:
            if job_id in self._seats:
                raise ValueError(f"job {job_id} is seated already")
            self._seats.add(job_id)
        try:
            yield _Seat(self, job_id)
        finally:
            with self._lock:
                self._seats.discard(job_id)
                self._lock.notify_all()

    def sample(
        self, prompt_ids: list[int], n: int, params: SamplingParams, adapter: AdapterRef | None
    ) -> list[Sample]:
        """This job's samples, drawn in one batch with whatever other jobs asked for too."""
        return self._sample(SampleRequest(tuple(prompt_ids), n, params, adapter), seat=None)

    def _sample(self, request: SampleRequest, seat: str | None) -> list[Sample]:
        if request.n < 1:
            return []
        ticket = _Ticket(request, seat)
        with self._lock:
            self._pending.append(ticket)
            self._lock.notify_all()
            if not self._leader_busy:
                self._leader_busy = ticket.lead = True
        while not ticket.answered:
            if ticket.lead:
                ticket.lead = False
                self._lead_one_batch()
                continue
            ticket.wake.wait()
            ticket.wake.clear()
        if ticket.error is not None:
            raise ticket.error
        assert ticket.samples is not None
        return ticket.samples

    def publish(self, adapter: AdapterRef) -> None:
        """Make the adapter usable by later batches."""
        self.inner.publish(adapter)

    def release(self, job_id: str) -> None:
        """Forget every adapter of a job."""
        self.inner.release(job_id)

    def close(self) -> None:
        """Close the batch sampler (vLLM's processes), if it has anything to close."""
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()

    @property
    def stats(self) -> BatchStats:
        """Batches so far, and the size of the last one (for metrics)."""
        with self._lock:
            return self._stats

    def _lead_one_batch(self) -> None:
        """Run the batch of everyone waiting, then pass the lead to a job still waiting, so
        that this job goes back to its own round at once."""
        try:
            self.run_on(_nothing)  # jobs that are learning ask once their step is done
            self._wait_for_seats()
            self.run_on(self._take_and_run)
        finally:
            with self._lock:
                successor = self._pending[0] if self._pending else None
                self._leader_busy = successor is not None
                if successor is not None:
                    successor.lead = True
                    successor.wake.set()

    def _wait_for_seats(self) -> None:
        """Until every seated job has asked, at most a share of the last batch's time; with
        no seat, `window_s` for the other requests to arrive."""
        with self._lock:
            if not self._seats:
                wait_s = self.window_s
            else:
                wait_s = max(self.window_s, STRAGGLER_SHARE * self._stats.last_seconds)
            self._lock.wait_for(self._all_seats_asked, timeout=wait_s)

    def _all_seats_asked(self) -> bool:
        asked = {ticket.seat for ticket in self._pending}
        return bool(self._seats) and self._seats <= asked

    def _take_and_run(self) -> None:
        """Run whoever is waiting now, once the model is free (late arrivals join too)."""
        with self._lock:
            batch = _same_stops(self._pending)
            for ticket in batch:
                self._pending.remove(ticket)
        self._run(batch)

    def _run(self, batch: Sequence[_Ticket]) -> None:
        if not batch:
            return
        started = time.perf_counter()
        try:
            results = self.inner.sample_many([ticket.request for ticket in batch])
        except BaseException as exc:  # every waiting job hears of it, none hangs
            for ticket in batch:
                ticket.error = exc
                ticket.wake.set()
            if not isinstance(exc, Exception):
                raise
            return
        rows = sum(ticket.request.n for ticket in batch)
        with self._lock:
            seconds = time.perf_counter() - started
            self._stats = BatchStats(self._stats.batches + 1, rows, len(batch), seconds)
        for ticket, samples in zip(batch, results, strict=True):
            ticket.samples = samples
            ticket.wake.set()


class _Seat:
    """One job's view of the shared sampler: its requests carry its seat."""

    def __init__(self, shared: SharedSampler, job_id: str) -> None:
        self._shared = shared
        self._job_id = job_id

    def sample(
        self, prompt_ids: list[int], n: int, params: SamplingParams, adapter: AdapterRef | None
    ) -> list[Sample]:
        """This job's samples, batched with the other seated jobs' requests."""
        request = SampleRequest(tuple(prompt_ids), n, params, adapter)
        return self._shared._sample(request, seat=self._job_id)

    def publish(self, adapter: AdapterRef) -> None:
        """Make the adapter usable by later batches."""
        self._shared.publish(adapter)

    def release(self, job_id: str) -> None:
        """Forget every adapter of a job."""
        self._shared.release(job_id)


def _same_stops(pending: Sequence[_Ticket]) -> list[_Ticket]:
    """The waiting tickets that share the first one's stop strings."""
    if not pending:
        return []
    stops = pending[0].request.params.stop
    return [ticket for ticket in pending if ticket.request.params.stop == stops]
