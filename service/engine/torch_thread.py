"""The one thread of a process that runs torch work on the shared model.

Each thread that runs torch ops gets an OpenMP thread team of its own, and an idle team's
threads spin for a while after each parallel region. Once two threads have used torch, each
forward on either runs about 1.35x slower on 2 cores, even when only one runs at a time
(`python -m benchmarks.torch_threads`). A worker runs each held job on a thread of its own,
so the engine's methods that compute with the model are decorated with `on_torch_thread`:
they run on this one thread, and the calling thread waits for the result. Calls made on the
torch thread itself run directly, so decorated methods may call each other.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class _Call:
    """A function to run on the torch thread, and where its result goes."""

    fn: Callable[[], Any]
    result: Future[Any]
    when_idle: bool = False


class TorchThread:
    """A daemon thread that runs submitted calls one at a time, in the order they came."""

    def __init__(self, name: str = "torch") -> None:
        self._calls: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        self._work_queued = 0  # calls waiting that are not `when_idle`
        self._count = threading.Lock()
        # A daemon: a process that is exiting does not wait for a generate in progress.
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def run(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """`fn(*args, **kwargs)` on the torch thread; its result, or its exception raised."""
        return self._submit(functools.partial(fn, *args, **kwargs), when_idle=False)

    def run_when_idle(self, fn: Callable[[], None]) -> None:
        """`fn()` on the torch thread once no other call but `when_idle` ones waits: it goes
        back behind calls that came after it. A sampling batch run so takes the rounds of the
        jobs whose learner steps were queued with it, rather than running once for each."""
        self._submit(fn, when_idle=True)

    def _submit(self, fn: Callable[[], R], *, when_idle: bool) -> R:
        if threading.current_thread() is self._thread:
            return fn()
        call = _Call(fn, Future(), when_idle)
        with self._count:
            self._work_queued += not when_idle
        self._calls.put(call)
        result: R = call.result.result()
        return result

    def _serve(self) -> None:
        while True:
            call = self._calls.get()
            with self._count:
                self._work_queued -= not call.when_idle
                work_waits = self._work_queued > 0
            if call.when_idle and work_waits:
                # Behind the work queued now; a job waiting in the batch queues none, so this
                # comes round once the others' steps are done.
                self._calls.put(call)
                continue
            if not call.result.set_running_or_notify_cancel():
                continue
            try:
                call.result.set_result(call.fn())
            except BaseException as exc:  # the caller re-raises it; this thread lives on
                call.result.set_exception(exc)


@functools.cache
def torch_thread() -> TorchThread:
    """The process's torch thread, started on first use."""
    return TorchThread()


def on_torch_thread(fn: Callable[P, R]) -> Callable[P, R]:
    """Run every call of `fn` on the process's torch thread."""

    @functools.wraps(fn)
    def on_thread(*args: P.args, **kwargs: P.kwargs) -> R:
        return torch_thread().run(fn, *args, **kwargs)

    return on_thread
