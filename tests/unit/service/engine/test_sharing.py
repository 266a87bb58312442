"""The shared sampler: concurrent jobs' requests go out as one batch, each gets its own back."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from service.engine.sharing import SharedSampler
from service.engine.types import AdapterRef, Sample, SampleRequest, SamplingParams

WAIT_S = 10.0


class GatedBatches:
    """A batch sampler whose batches each wait for the test to open their gate."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[int, ...]]] = []
        self.gates: list[threading.Event] = []
        self.started = threading.Condition()
        self.fail_next = False

    def sample_many(self, requests: Sequence[SampleRequest]) -> list[list[Sample]]:
        gate = threading.Event()
        with self.started:
            self.batches.append([r.prompt_ids for r in requests])
            self.gates.append(gate)
            self.started.notify_all()
        assert gate.wait(WAIT_S), "the test never opened this batch's gate"
        if self.fail_next:
            raise RuntimeError("the model fell over")
        return [
            [Sample(r.prompt_ids, (), f"{r.prompt_ids[0]}-{i}") for i in range(r.n)]
            for r in requests
        ]

    def wait_for_batches(self, count: int) -> None:
        with self.started:
            assert self.started.wait_for(lambda: len(self.batches) >= count, WAIT_S)

    def publish(self, adapter: AdapterRef) -> None: ...

    def release(self, job_id: str) -> None: ...


def ask(
    shared: SharedSampler, prompt: int, out: dict[int, object], n: int = 2, stop=()
) -> threading.Thread:
    def run() -> None:
        try:
            out[prompt] = shared.sample([prompt], n, SamplingParams(stop=stop), None)
        except Exception as exc:  # recorded for the test to check
            out[prompt] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def wait_pending(shared: SharedSampler, count: int) -> None:
    deadline = threading.Event()
    for _ in range(int(WAIT_S / 0.01)):
        with shared._lock:
            if len(shared._pending) >= count:
                return
        deadline.wait(0.01)
    raise AssertionError(f"{count} requests never queued")


def test_requests_arriving_during_a_batch_form_the_next_one_and_each_gets_its_own() -> None:
    inner = GatedBatches()
    shared = SharedSampler(inner, window_s=0.0)
    out: dict[int, object] = {}
    first = ask(shared, 1, out)
    inner.wait_for_batches(1)
    later = [ask(shared, 2, out, n=3), ask(shared, 3, out)]
    wait_pending(shared, 2)
    inner.gates[0].set()
    first.join(WAIT_S)
    # The first job is back with its samples while the next batch still runs: it does not
    # serve the other jobs' batch.
    assert not first.is_alive()
    inner.wait_for_batches(2)
    assert inner.batches == [[(1,)], [(2,), (3,)]]
    inner.gates[1].set()
    for thread in later:
        thread.join(WAIT_S)
    assert [s.text for s in out[1]] == ["1-0", "1-1"]  # type: ignore[union-attr]
    assert [s.text for s in out[2]] == ["2-0", "2-1", "2-2"]  # type: ignore[union-attr]
    assert [s.text for s in out[3]] == ["3-0", "3-1"]  # type: ignore[union-attr]
    assert shared.stats.batches == 2 and shared.stats.last_rows == 5
    assert shared.stats.last_requests == 2


def test_a_failed_batch_fails_its_jobs_and_the_next_batch_still_runs() -> None:
    inner = GatedBatches()
    shared = SharedSampler(inner, window_s=0.0)
    out: dict[int, object] = {}
    first = ask(shared, 1, out)
    inner.wait_for_batches(1)
    second = ask(shared, 2, out)
    wait_pending(shared, 1)
    inner.fail_next = True
    inner.gates[0].set()
    first.join(WAIT_S)
    assert isinstance(out[1], RuntimeError)
    inner.wait_for_batches(2)
    inner.fail_next = False
    inner.gates[1].set()
    second.join(WAIT_S)
    assert [s.text for s in out[2]] == ["2-0", "2-1"]  # type: ignore[union-attr]


def test_requests_with_other_stop_strings_go_in_their_own_batch() -> None:
    inner = GatedBatches()
    shared = SharedSampler(inner, window_s=0.0)
    out: dict[int, object] = {}
    first = ask(shared, 1, out)
    inner.wait_for_batches(1)
    others = [ask(shared, 2, out, stop=("```",)), ask(shared, 3, out)]
    wait_pending(shared, 2)
    inner.gates[0].set()
    inner.wait_for_batches(2)
    inner.gates[1].set()
    inner.wait_for_batches(3)
    inner.gates[2].set()
    for thread in [first, *others]:
        thread.join(WAIT_S)
    assert inner.batches == [[(1,)], [(2,)], [(3,)]]
    assert all(isinstance(out[k], list) for k in (1, 2, 3))


def test_no_samples_asked_is_answered_without_a_batch() -> None:
    inner = GatedBatches()
    assert SharedSampler(inner).sample([1], 0, SamplingParams(), None) == []
    assert inner.batches == []


@pytest.mark.parametrize("window_s", [0.0, 0.01])
def test_a_lone_job_is_served_at_once(window_s: float) -> None:
    inner = GatedBatches()
    shared = SharedSampler(inner, window_s=window_s)
    out: dict[int, object] = {}
    thread = ask(shared, 7, out, n=1)
    inner.wait_for_batches(1)
    inner.gates[0].set()
    thread.join(WAIT_S)
    assert [s.text for s in out[7]] == ["7-0"]  # type: ignore[union-attr]


def test_requests_that_come_while_the_model_is_busy_join_the_batch_that_waited_for_it() -> None:
    inner = GatedBatches()
    model_free = threading.Event()
    waiting_for_model = threading.Event()

    def busy_model(run) -> None:  # a learner step holds the torch thread
        waiting_for_model.set()
        assert model_free.wait(WAIT_S)
        run()

    shared = SharedSampler(inner, window_s=0.0, run_on=busy_model)
    out: dict[int, object] = {}
    first = ask(shared, 1, out)
    assert waiting_for_model.wait(WAIT_S)
    later = [ask(shared, 2, out), ask(shared, 3, out, n=1)]
    wait_pending(shared, 3)
    model_free.set()
    inner.wait_for_batches(1)
    inner.gates[0].set()
    for thread in [first, *later]:
        thread.join(WAIT_S)
    assert inner.batches == [[(1,), (2,), (3,)]]
    assert [s.text for s in out[3]] == ["3-0"]  # type: ignore[union-attr]
    assert shared.stats.batches == 1 and shared.stats.last_rows == 5


def ask_seated(seat, prompt: int, out: dict[int, object], n: int = 2) -> threading.Thread:
    def run() -> None:
        out[prompt] = seat.sample([prompt], n, SamplingParams(), None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_batch_waits_for_every_seated_job_however_long_the_window() -> None:
    inner = GatedBatches()
    shared = SharedSampler(inner, window_s=WAIT_S)  # only the seats can end the wait early
    out: dict[int, object] = {}
    with shared.seat("a") as a, shared.seat("b") as b:
        first = ask_seated(a, 1, out)
        wait_pending(shared, 1)
        assert inner.batches == []  # b has not asked yet
        second = ask_seated(b, 2, out)
        inner.wait_for_batches(1)
        inner.gates[0].set()
        for thread in (first, second):
            thread.join(WAIT_S)
    assert inner.batches == [[(1,), (2,)]]
    assert [s.text for s in out[2]] == ["2-0", "2-1"]  # type: ignore[union-attr]


def test_a_job_that_leaves_its_seat_is_not_waited_for() -> None:
    inner = GatedBatches()
    shared = SharedSampler(inner, window_s=WAIT_S)
    out: dict[int, object] = {}
    with shared.seat("a") as a:
        with shared.seat("b"):
            first = ask_seated(a, 1, out)
            wait_pending(shared, 1)
            assert inner.batches == []
        inner.wait_for_batches(1)  # b is gone: a's batch runs without it
        inner.gates[0].set()
        first.join(WAIT_S)
    assert inner.batches == [[(1,)]]


def test_a_late_seated_job_is_waited_for_at_most_a_share_of_the_last_batch() -> None:
    inner = GatedBatches()
    shared = SharedSampler(inner, window_s=0.0)
    out: dict[int, object] = {}
    with shared.seat("a") as a, shared.seat("late"):
        for prompt in (1, 2):  # the late job never asks: each batch runs without it
            thread = ask_seated(a, prompt, out)
            inner.wait_for_batches(prompt)
            threading.Event().wait(0.1)  # the batch's time bounds the next wait
            inner.gates[-1].set()
            thread.join(WAIT_S)
            assert not thread.is_alive()
    assert inner.batches == [[(1,)], [(2,)]]
    assert shared.stats.last_seconds >= 0.1


def test_a_job_cannot_take_two_seats() -> None:
    shared = SharedSampler(GatedBatches())
    with shared.seat("a"), pytest.raises(ValueError, match="seated already"), shared.seat("a"):
        pass
