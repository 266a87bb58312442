"""What a worker solves with: the engine (model, learner, sampler) and the sandbox."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, replace

from sandbox import Sandbox, make_backend
from service.config import Settings
from service.engine.sharing import SharedSampler
from service.engine.types import Sampler
from service.solver.loop import SolverParts

logger = logging.getLogger(__name__)


@dataclass
class WorkerParts:
    """The solver's parts and what must be closed with them."""

    parts: SolverParts
    sandbox: Sandbox | None = None

    def close(self) -> None:
        """Finish the learner's queued checkpoint writes, stop the sampler's engine processes
        (vLLM) and the sandbox's containers."""
        close_learner = getattr(self.parts.learner, "close", None)
        close_sampler = getattr(self.parts.sampler, "close", None)
        try:
            if callable(close_learner):
                close_learner()
        finally:
            try:
                if callable(close_sampler):
                    close_sampler()
            finally:
                if self.sandbox is not None:
                    self.sandbox.close()


@contextmanager
def seated_parts(parts: SolverParts, job_id: str) -> Iterator[SolverParts]:
    """The parts one job solves with: on a shared sampler, a seat the batches wait for."""
    seat: AbstractContextManager[Sampler] = nullcontext(parts.sampler)
    if isinstance(parts.sampler, SharedSampler):
        seat = parts.sampler.seat(job_id)
    with seat as sampler:
        yield replace(parts, sampler=sampler)


def build_parts(settings: Settings) -> WorkerParts:
    """Load the model once and start the sandbox pool (slow: call it in a thread)."""
    import torch

    from service.engine.factory import build_engine  # torch and transformers load here
    from service.engine.torch_thread import torch_thread

    if settings.worker.torch_threads is not None:
        # On the thread that will run the model's work, and on this one.
        torch_thread().run(torch.set_num_threads, settings.worker.torch_threads)
        torch.set_num_threads(settings.worker.torch_threads)
    sandbox_settings = settings.sandbox
    sandbox = Sandbox(
        make_backend(
            sandbox_settings.backend,
            concurrency=sandbox_settings.concurrency,
            image=sandbox_settings.image,
        ),
        extraction=sandbox_settings.extraction,
    )
    try:
        engine = build_engine(settings)
    except BaseException:
        sandbox.close()
        raise
    parts = SolverParts(engine.sampler, sandbox, engine.host.tokenizer, engine.learner)
    return WorkerParts(parts, sandbox)
