"""`python -m benchmarks.steps`: does an SDPO step move the model toward passing programs?

    python -m benchmarks.steps [--model NAME] [--mbpp-order longer-half] [--limit 12]
        [--problems ID,ID,...] [--attempts 8] [--steps 1,2,4] [--max-new-tokens 256]
        [--prompt reasoning|concise] [--learning-rate 1e-4] [--teacher ema|initial|current]
        [--top-k 20] [--seed 0] [--out-dir benchmarks/results/steps]

For each problem whose reference passes its tests, samples one round of `attempts` from the
base model and judges it as the solver does (public tests, the service's extraction and
feedback). A round with failing attempts that carry feedback is kept. Then per problem two fresh
adapters take 1 .. max(steps) SDPO steps, `own` on the problem's round and `control` on the next
problem's round, and after each listed step count the reference's mean log-prob per token under
the student prompt is scored with that adapter; the baseline (`before`) is the base model,
scored in the same run. Rows go to a journal (`rows.jsonl` in --out-dir) as each problem ends,
so a cut run resumes where it stopped (with the same arguments); the summary (`steps.json`) and
the plot (`steps.png`) are written from the journal.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.discovery.problems import MBPP_PATH
from benchmarks.extraction import mbpp_pool
from benchmarks.steps.plot import plot
from benchmarks.steps.summary import ProblemRow, control_pairs, summarize
from service.probe.attempts import ProbeProblem


@dataclass(frozen=True)
class Round:
    """A problem's judged round: its student prompt, reference ids and distillation examples."""

    problem: ProbeProblem
    prompt: list[int]
    reference: list[int]
    examples: tuple[Any, ...]  # DistillationExample
    failures: int


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="the engine's model (a name, folder or hub id)")
    parser.add_argument("--mbpp", type=Path, default=MBPP_PATH)
    parser.add_argument("--mbpp-order", default="longer-half", choices=["shortest", "longer-half"])
    parser.add_argument("--limit", type=int, default=12)
    parser.add_argument("--problems", help="comma-separated problem ids to keep (a screened set)")
    parser.add_argument("--attempts", type=int, default=8)
    parser.add_argument("--steps", default="1,2,4")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--prompt", default="reasoning", choices=["reasoning", "concise"])
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--teacher", help="ema (default) or frozen")
    parser.add_argument(
        "--teacher-ema-rate", type=float, help="the EMA teacher's rate; 1.0: the current student"
    )
    parser.add_argument("--top-k", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=Path("benchmarks/results/steps"))
    return parser.parse_args(argv)


def step_counts(text: str) -> list[int]:
    """`1,2,4` -> [1, 2, 4]: positive, increasing."""
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or any(c < 1 for c in counts) or counts != sorted(set(counts)):
        raise SystemExit(f"--steps must be increasing positive counts, got {text!r}")
    return counts


def learner_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The SDPO settings the command line sets, as a job's overrides."""
    chosen = {
        "learning_rate": args.learning_rate,
        "teacher": args.teacher,
        "teacher_ema_rate": args.teacher_ema_rate,
        "top_k": args.top_k,
    }
    return {k: v for k, v in chosen.items() if v is not None}


def judged_round(problem: ProbeProblem, parts: Any, args: argparse.Namespace) -> Round:
    """Sample and judge one round; examples for every attempt, a teacher for those with feedback."""
    from service.engine.types import DistillationExample, SamplingParams
    from service.probe.scoring import reference_ids
    from service.solver.feedback import render_feedback
    from service.solver.prompts import PromptStyle, student_prompt_ids, teacher_prompt_ids
    from service.solver.spec import TEACHER_MAX_TOKENS

    style = PromptStyle(args.prompt)
    tokenizer = parts.tokenizer
    prompt = student_prompt_ids(tokenizer, problem.problem, style=style)
    params = SamplingParams(max_new_tokens=args.max_new_tokens, seed=args.seed)
    examples, failures = [], 0
    for sample in parts.sampler.sample(prompt, args.attempts, params, None):
        result = parts.judge.run_suite(sample.text, problem.problem, "public")
        solution = parts.judge.extract(sample.text, problem.problem)
        code = None if solution is None else solution.code
        feedback = render_feedback(result, truncated=sample.truncated, code=code)
        teacher = None
        if feedback and not result.accepted and sample.token_ids:
            failures += 1
            teacher = teacher_prompt_ids(
                tokenizer, problem.problem, feedback, max_tokens=TEACHER_MAX_TOKENS, style=style
            )
        if sample.token_ids:
            examples.append(DistillationExample.from_sample(prompt, teacher, sample))
    reference = reference_ids(tokenizer, problem.reference)
    return Round(problem, prompt, reference, tuple(examples), failures)


def reference_score(parts: Any, round_: Round, adapter: str | None) -> float:
    """The reference's mean log-prob per token under the student prompt (base or `adapter`)."""
    from service.engine.scoring import token_logprobs

    (values,) = token_logprobs(
        parts.learner.host, [round_.prompt], [round_.reference], adapter=adapter
    )
    return sum(values) / len(values)


def arm_scores(
    parts: Any, scored: Round, learned: Round, steps: list[int], args: argparse.Namespace
) -> dict[int, float]:
    """Steps on `learned`'s round in a fresh adapter; `scored`'s reference after each count."""
    from service.config import SdpoParams
    from service.engine.types import DistillationBatch

    job_id = f"steps-{scored.problem.id}-{learned.problem.id}".replace("/", "-")
    learner = parts.learner
    learner.create(job_id, seed=args.seed, sdpo=SdpoParams.model_validate(learner_overrides(args)))
    batch = DistillationBatch(learned.examples)
    scores: dict[int, float] = {}
    try:
        for k in range(1, max(steps) + 1):
            learner.step(job_id, batch)
            if k in steps:
                scores[k] = reference_score(parts, scored, learner.adapter_name(job_id))
    finally:
        learner.delete(job_id)
    return scores


def read_journal(path: Path) -> list[ProblemRow]:
    """The rows already measured (none when there is no journal)."""
    if not path.exists():
        return []
    return [ProblemRow.from_json(json.loads(line)) for line in path.read_text().splitlines()]


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    steps = step_counts(args.steps)
    problems = mbpp_pool(args.mbpp, args.limit, args.mbpp_order)
    if args.problems:
        wanted = set(args.problems.split(","))
        problems = [p for p in problems if p.id in wanted]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    journal = args.out_dir / "rows.jsonl"
    done = {row.problem: row for row in read_journal(journal)}
    from benchmarks.discovery.engine import solver_parts
    from service.probe.attempts import sound

    overrides = {"model": args.model} if args.model else None
    with solver_parts(overrides, cache_samples=True) as parts:
        rounds = [judged_round(p, parts, args) for p in sound(problems, parts.judge)]
        kept = [r for r in rounds if r.failures > 0]
        print(f"{len(kept)} of {len(problems)} problems have a failing round", flush=True)
        by_id = {r.problem.id: r for r in kept}
        pairs = control_pairs(list(by_id))
        for round_ in kept:
            if round_.problem.id in done:
                continue
            row = measure(parts, round_, by_id[pairs[round_.problem.id]], steps, args)
            with journal.open("a") as out:
                out.write(json.dumps(row.to_json()) + "\n")
            print(describe_row(row, steps), flush=True)
    rows = read_journal(journal)
    report: dict[str, Any] = {
        "config": {k: str(v) for k, v in vars(args).items()},
        "rows": [r.to_json() for r in rows],
    }
    report["summary"] = summarize(rows, steps)
    (args.out_dir / "steps.json").write_text(json.dumps(report, indent=2))
    plot(report, args.out_dir / "steps.png")
    print(describe(report["summary"]))


def measure(
    parts: Any, round_: Round, control: Round, steps: list[int], args: argparse.Namespace
) -> ProblemRow:
    """One problem's row: before, then both arms."""
    began = time.perf_counter()
    before = reference_score(parts, round_, None)
    after = {
        "own": arm_scores(parts, round_, round_, steps, args),
        "control": arm_scores(parts, round_, control, steps, args),
    }
    return ProblemRow(
        round_.problem.id,
        control.problem.id,
        round_.failures,
        before,
        after,
        time.perf_counter() - began,
    )


def describe_row(row: ProblemRow, steps: list[int]) -> str:
    """One line per problem: the gains per step count in each arm."""
    gains = ", ".join(
        f"{k}: own {row.gain('own', k):+.4f} control {row.gain('control', k):+.4f}" for k in steps
    )
    return f"{row.problem} ({row.failures} failures, {row.seconds:.0f} s): {gains}"


def describe(summary: dict[str, Any]) -> str:
    """The summary, a line per step count."""
    lines = [f"{summary['problems']} problems; gains in nats/token of the reference, 95% CI"]
    for k, row in summary["by_steps"].items():
        own, control, effect = row["own_gain"], row["control_gain"], row["own_minus_control"]
        lines.append(
            f"{k} steps: own {own['mean']:+.4f} [{own['low']:+.4f}, {own['high']:+.4f}], "
            f"control {control['mean']:+.4f} [{control['low']:+.4f}, {control['high']:+.4f}], "
            f"own - control {effect['mean']:+.4f} [{effect['low']:+.4f}, {effect['high']:+.4f}] "
            f"(own above control on {row['share_own_above_control']:.0%})"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
