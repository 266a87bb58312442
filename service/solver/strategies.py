"""The three strategies behind one interface (docs/algorithm.md §5, §6); `loop.solve` drives them.

A strategy decides what each round samples from (prompt and adapter) and what happens after a
round without a success: `sdpo` takes one SDPO step on the job's adapter and publishes it,
`best_of_k` does nothing (i.i.d. rounds from the base model), `multi_turn` adds the round's
feedback to its one growing user message. Budget, judging, events and cancellation live in
the loop, so the three are compared on exactly the same accounting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, get_args

from sandbox.problem import Problem
from service.engine.types import (
    AdapterRef,
    DistillationBatch,
    DistillationExample,
    Learner,
    Sample,
    Sampler,
    StepMetrics,
)
from service.solver.attempts import AttemptRecord
from service.solver.prompts import (
    ChatTokenizer,
    PromptStyle,
    multi_turn_prompt_ids,
    student_prompt_ids,
    teacher_prompt_ids,
)
from service.solver.spec import SolveSpec

# Re-exported: the names are read beside the registry that builds each.
from service.solver.strategy_names import DEFAULT_STRATEGY as DEFAULT_STRATEGY
from service.solver.strategy_names import StrategyName as StrategyName


@dataclass(frozen=True)
class Resume:
    """Where a job restarts after a crash: the counts it had reached and its last adapter.

    `feedback_history` is the multi-turn baseline's past feedback, oldest first.
    """

    start_attempt: int = 0
    start_round: int = 0
    adapter: AdapterRef | None = None
    feedback_history: tuple[str, ...] = ()
    elapsed_seconds: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.start_round <= self.start_attempt:
            raise ValueError(
                "need 0 <= start_round <= start_attempt (a round holds at least one attempt), "
                f"got start_round={self.start_round}, start_attempt={self.start_attempt}"
            )


@dataclass(frozen=True)
class StrategyContext:
    """What every strategy is built from: the job's spec (its request and the worker's
    settings) and the engine's tokenizer and sampler."""

    spec: SolveSpec
    tokenizer: ChatTokenizer
    sampler: Sampler

    @property
    def problem(self) -> Problem:
        """The job's problem."""
        return self.spec.problem

    @property
    def system_prompt(self) -> str | None:
        """The worker's system prompt, if any."""
        return self.spec.worker.system_prompt

    @property
    def prompt_style(self) -> PromptStyle:
        """How the job's student and teacher prompts ask for the answer."""
        return self.spec.request.sampling.prompt

    @property
    def distill_temperature(self) -> float:
        """SDPO distills at the temperature the job samples at (the request keeps it > 0:
        greedy sampling has no distribution to distill at)."""
        return self.spec.request.sampling.temperature


@dataclass(frozen=True)
class Learned:
    """What a learning round produced: the step's metrics and the adapter now published."""

    metrics: StepMetrics
    adapter: AdapterRef


class Strategy(Protocol):
    """One way to spend a budget of attempts on a problem."""

    def start(self, resume: Resume) -> None:
        """Prepare the job (create or restore its adapter, reload past feedback)."""
        ...

    def prompt_ids(self) -> list[int]:
        """The prompt the next round samples from."""
        ...

    def adapter(self) -> AdapterRef | None:
        """The adapter the next round samples with (None: the base model)."""
        ...

    def after_round(
        self, round_index: int, samples: Sequence[Sample], records: Sequence[AttemptRecord]
    ) -> Learned | None:
        """React to a round without a success; `Learned` when an adapter was published."""
        ...

    def close(self) -> None:
        """Release what the job holds in the engine."""
        ...


@dataclass
class BestOfK:
    """i.i.d. rounds from the base model's student prompt; never learns."""

    context: StrategyContext
    _prompt: list[int] = field(default_factory=list)

    def start(self, resume: Resume) -> None:
        """Render the student prompt once; a resume needs nothing else."""
        ctx = self.context
        self._prompt = student_prompt_ids(
            ctx.tokenizer, ctx.problem, system=ctx.system_prompt, style=ctx.prompt_style
        )

    def prompt_ids(self) -> list[int]:
        """The student prompt."""
        return self._prompt

    def adapter(self) -> AdapterRef | None:
        """Always the base model."""
        return None

    def after_round(
        self, round_index: int, samples: Sequence[Sample], records: Sequence[AttemptRecord]
    ) -> Learned | None:
        """Nothing carries over between rounds."""
        return None

    def close(self) -> None:
        """Nothing is held."""


@dataclass
class MultiTurn:
    """One user message with the problem and all past feedback (never past attempts).

    The oldest feedback is dropped once the prompt would exceed `prompt_max_tokens`.
    """

    context: StrategyContext
    feedback: list[str] = field(default_factory=list)

    def start(self, resume: Resume) -> None:
        """Reload the feedback of the rounds before a resume."""
        self.feedback = list(resume.feedback_history)

    def prompt_ids(self) -> list[int]:
        """The problem plus the newest feedback that fits the prompt budget."""
        ctx = self.context
        return multi_turn_prompt_ids(
            ctx.tokenizer,
            ctx.problem,
            self.feedback,
            max_tokens=ctx.spec.worker.prompt_max_tokens,
            system=ctx.system_prompt,
            style=ctx.prompt_style,
        )

    def adapter(self) -> AdapterRef | None:
        """Always the base model."""
        return None

    def after_round(
        self, round_index: int, samples: Sequence[Sample], records: Sequence[AttemptRecord]
    ) -> Learned | None:
        """Append the round's feedback in attempt order; empty feedback says nothing."""
        self.feedback.extend(record.feedback for record in records if record.feedback)
        return None

    def close(self) -> None:
        """Nothing is held."""


@dataclass
class Sdpo:
    """SDPO test-time training on the job's own LoRA adapter (docs/algorithm.md §5, steps 4-6).

    Until the first step the job's fresh adapter equals the base model (LoRA B = 0), so the
    first round samples with `adapter=None` and nothing is published before there is
    something learned. An attempt whose feedback is empty (a public pass that failed the
    hidden tests, or a sandbox error) gets no teacher prompt: it is masked, still counting in
    the batch's sequence mean.
    """

    context: StrategyContext
    learner: Learner
    _prompt: list[int] = field(default_factory=list)
    _adapter: AdapterRef | None = None

    def start(self, resume: Resume) -> None:
        """Create the job's adapter, or restore it from its checkpoint and publish it."""
        ctx = self.context
        self._prompt = student_prompt_ids(
            ctx.tokenizer, ctx.problem, system=ctx.system_prompt, style=ctx.prompt_style
        )
        if resume.adapter is None:
            self.learner.create(ctx.spec.job_id, seed=ctx.spec.seed, sdpo=ctx.spec.sdpo)
            return
        # A checkpoint does not hold the job's overrides: pass them again on resume.
        restored = self.learner.restore(resume.adapter, seed=ctx.spec.seed, sdpo=ctx.spec.sdpo)
        if restored is not None:  # else its learning starts again from the base model
            ctx.sampler.publish(restored)
        self._adapter = restored

    def prompt_ids(self) -> list[int]:
        """The student prompt."""
        return self._prompt

    def adapter(self) -> AdapterRef | None:
        """The job's latest published adapter (None before the first step)."""
        return self._adapter

    def after_round(
        self, round_index: int, samples: Sequence[Sample], records: Sequence[AttemptRecord]
    ) -> Learned | None:
        """One SDPO step on the round's attempts, then checkpoint and publish the adapter."""
        examples = tuple(self._example(s, r) for s, r in zip(samples, records, strict=True))
        if all(example.teacher_prompt_ids is None for example in examples):
            return None  # nothing to learn from: keep the current adapter
        batch = DistillationBatch(examples, temperature=self.context.distill_temperature)
        job_id = self.context.spec.job_id
        metrics = self.learner.step(job_id, batch)
        ref = self.learner.checkpoint(job_id)
        self.context.sampler.publish(ref)
        self._adapter = ref
        return Learned(metrics=metrics, adapter=ref)

    def close(self) -> None:
        """Drop the job's adapter from memory; its checkpoints stay on disk."""
        self.learner.delete(self.context.spec.job_id)
        self.context.sampler.release(self.context.spec.job_id)

    def _example(self, sample: Sample, record: AttemptRecord) -> DistillationExample:
        teacher = None
        if record.feedback:
            ctx = self.context
            teacher = teacher_prompt_ids(
                ctx.tokenizer,
                ctx.problem,
                record.feedback,
                max_tokens=ctx.spec.worker.teacher_max_tokens,
                system=ctx.system_prompt,
                style=ctx.prompt_style,
            )
        return DistillationExample.from_sample(self._prompt, teacher, sample)


Builder = Callable[[StrategyContext, Learner | None], Strategy]


@dataclass(frozen=True)
class StrategyKind:
    """A registered strategy: its name and how to build it."""

    name: StrategyName
    build: Builder


def _sdpo(context: StrategyContext, learner: Learner | None) -> Strategy:
    if learner is None:
        raise ValueError("the sdpo strategy needs a learner")
    return Sdpo(context, learner)


REGISTRY: Mapping[StrategyName, StrategyKind] = {
    kind.name: kind
    for kind in (
        StrategyKind("sdpo", _sdpo),
        StrategyKind("best_of_k", lambda context, _: BestOfK(context)),
        StrategyKind("multi_turn", lambda context, _: MultiTurn(context)),
    )
}
if tuple(REGISTRY) != get_args(StrategyName):  # pragma: no cover - caught at import
    raise ImportError("REGISTRY must register each StrategyName once, in order")
STRATEGIES: tuple[StrategyName, ...] = tuple(REGISTRY)


def strategy_names(conjunction: str = "or") -> str:
    """The names for a sentence: `sdpo, best_of_k or multi_turn`."""
    *rest, last = STRATEGIES
    return f"{', '.join(rest)} {conjunction} {last}"


def make_strategy(
    name: StrategyName, context: StrategyContext, learner: Learner | None = None
) -> Strategy:
    """The named strategy; `sdpo` needs a learner."""
    kind = REGISTRY.get(name)
    if kind is None:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    return kind.build(context, learner)
