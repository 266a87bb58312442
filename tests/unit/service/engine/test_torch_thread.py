"""The torch thread: every call runs on the one thread, results and errors come back."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from service.engine.torch_thread import TorchThread, on_torch_thread, torch_thread


def test_calls_from_many_threads_all_run_on_one_other_thread():
    worker = TorchThread(name="test-torch")
    with ThreadPoolExecutor(max_workers=6) as pool:
        seen = list(pool.map(lambda _: worker.run(threading.get_ident), range(60)))
    assert len(set(seen)) == 1
    assert seen[0] != threading.get_ident()


def test_each_caller_gets_its_own_result_with_its_arguments():
    worker = TorchThread(name="test-torch")
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda i: worker.run(pow, i, 2), range(40)))
    assert results == [i * i for i in range(40)]


def test_an_exception_reaches_the_caller_and_the_thread_lives_on():
    worker = TorchThread(name="test-torch")

    def fail() -> None:
        raise ValueError("from the torch thread")

    with pytest.raises(ValueError, match="from the torch thread"):
        worker.run(fail)
    assert worker.run(len, "still here") == 10


def test_a_call_made_on_the_thread_runs_directly_instead_of_waiting_on_itself():
    worker = TorchThread(name="test-torch")

    def outer() -> tuple[int, int]:
        return threading.get_ident(), worker.run(threading.get_ident)

    first, nested = worker.run(outer)
    assert first == nested


def test_calls_from_one_thread_run_in_the_order_they_were_made():
    worker = TorchThread(name="test-torch")
    order: list[int] = []
    for i in range(20):
        worker.run(order.append, i)
    assert order == list(range(20))


def test_decorated_methods_share_the_process_thread():
    class Model:
        @on_torch_thread
        def where(self) -> int:
            return threading.get_ident()

        @on_torch_thread
        def nested(self) -> int:
            return self.where()

    model = Model()
    ident = torch_thread().run(threading.get_ident)
    assert model.where() == model.nested() == ident != threading.get_ident()
    assert Model.where.__name__ == "where"


def test_a_call_run_when_idle_waits_behind_work_that_came_after_it():
    worker = TorchThread(name="test-torch")
    busy, order = threading.Event(), []
    with ThreadPoolExecutor(max_workers=4) as pool:
        blocker = pool.submit(worker.run, busy.wait, 10)
        idle = pool.submit(worker.run_when_idle, lambda: order.append("batch"))
        while worker._work_queued or worker._calls.qsize() < 1:
            threading.Event().wait(0.01)
        steps = [pool.submit(worker.run, order.append, f"step {i}") for i in range(2)]
        while worker._work_queued < 2:
            threading.Event().wait(0.01)
        busy.set()
        for future in (blocker, idle, *steps):
            future.result(timeout=10)
    assert order == ["step 0", "step 1", "batch"]


def test_calls_run_when_idle_do_not_wait_on_each_other():
    worker = TorchThread(name="test-torch")
    done: list[int] = []
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(worker.run_when_idle, lambda i=i: done.append(i)) for i in range(3)]
        for future in futures:
            future.result(timeout=10)
    assert sorted(done) == [0, 1, 2]
