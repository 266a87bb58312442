"""The base model's pass rate under each extraction rule, on the same samples.

    python -m benchmarks.extraction [--mbpp-limit 40] [--mbpp-samples 4] [--examples-samples 8]
                                    [--max-new-tokens 192] [--seed 0] [--out PATH]

Samples i.i.d. attempts from the base model (student prompt, one seed per problem set) on the
hard MBPP pool (the 40 problems with the shortest references, the discovery benchmark's
screening pool) and on `examples/`, and judges every response on all tests under both rules:
`longest` (the paper's, the baseline) and `runnable` (the default). Both rules see the very
same responses, so every difference is the rule's. Reports pass rates with 95% bootstrap CIs
over problems, the share of compile and format errors, and the responses whose judged code
differs.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.discovery.problems import EXAMPLES_DIR, MBPP_PATH
from sandbox.extract import Extraction
from sandbox.runner import Sandbox
from service.probe.attempts import ProbeProblem
from service.probe.problems import load_probe_problems
from service.probe.stats import bootstrap_mean

RESULTS = Path(__file__).resolve().parent / "results" / "extraction.json"
RULES = (Extraction.LONGEST, Extraction.RUNNABLE)


@dataclass(frozen=True)
class Judged:
    """One response's verdict under each rule, and whether the rules judged different code."""

    problem: str
    verdicts: dict[str, str]
    code_differs: bool


def judge_both(
    problem: ProbeProblem, texts: Sequence[str], sandboxes: dict[Extraction, Sandbox]
) -> list[Judged]:
    """Each response's verdict on all tests under each rule (judged once where the code agrees)."""
    judged = []
    for text in texts:
        codes = {rule: sandboxes[rule].extract(text, problem.problem) for rule in RULES}
        longest = sandboxes[Extraction.LONGEST].run_suite(text, problem.problem, "all")
        runnable = (
            longest
            if codes[Extraction.RUNNABLE] == codes[Extraction.LONGEST]
            else sandboxes[Extraction.RUNNABLE].run_suite(text, problem.problem, "all")
        )
        verdicts = {"longest": longest.verdict.value, "runnable": runnable.verdict.value}
        differs = codes[Extraction.LONGEST] != codes[Extraction.RUNNABLE]
        judged.append(Judged(problem.id, verdicts, differs))
    return judged


def summarize(judged: Sequence[Judged]) -> dict[str, Any]:
    """Per rule: pass rate (CI over problems), verdict counts; and the flips between rules."""
    problems = sorted({j.problem for j in judged})
    out: dict[str, Any] = {"responses": len(judged), "problems": len(problems)}
    for rule in RULES:
        per_problem = [_rate([j for j in judged if j.problem == p], rule.value) for p in problems]
        estimate = bootstrap_mean(per_problem)
        out[rule.value] = {
            "pass_rate": _rate(judged, rule.value),
            "pass_rate_by_problem": {
                "mean": estimate.mean,
                "low": estimate.low,
                "high": estimate.high,
            },  # fmt: skip
            "verdicts": dict(Counter(j.verdicts[rule.value] for j in judged).most_common()),
            "problems_solved": sum(rate > 0 for rate in per_problem),
        }
    out["code_differs"] = sum(j.code_differs for j in judged)
    out["fail_to_pass"] = sum(
        j.verdicts["longest"] != "accepted" and j.verdicts["runnable"] == "accepted" for j in judged
    )
    out["pass_to_fail"] = sum(
        j.verdicts["longest"] == "accepted" and j.verdicts["runnable"] != "accepted" for j in judged
    )
    return out


def _rate(judged: Sequence[Judged], rule: str) -> float:
    return sum(j.verdicts[rule] == "accepted" for j in judged) / len(judged)


def run_set(
    problems: Sequence[ProbeProblem], samples: int, parts: Any, args: argparse.Namespace
) -> list[Judged]:
    """Sample and judge every problem of one set."""
    from service.engine.types import SamplingParams
    from service.solver.prompts import student_prompt_ids

    # Both rules judge through the benchmark's one warm pool (closed with `parts`).
    sandboxes = {rule: Sandbox(parts.judge.backend, extraction=rule) for rule in RULES}
    params = SamplingParams(max_new_tokens=args.max_new_tokens, seed=args.seed)
    judged: list[Judged] = []
    for problem in problems:
        prompt = student_prompt_ids(parts.tokenizer, problem.problem)
        texts = [s.text for s in parts.sampler.sample(prompt, samples, params, None)]
        judged.extend(judge_both(problem, texts, sandboxes))
        passes = {r.value: sum(j.verdicts[r.value] == "accepted" for j in judged[-samples:])
                  for r in RULES}  # fmt: skip
        print(f"{problem.id}: passes {passes}", flush=True)
    return judged


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mbpp-limit", type=int, default=40)
    parser.add_argument("--mbpp-samples", type=int, default=4)
    parser.add_argument("--examples-samples", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=192)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mbpp", type=Path, default=MBPP_PATH)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    from benchmarks.discovery.engine import solver_parts

    sets = {
        "mbpp_hard_pool": (
            load_probe_problems([args.mbpp], limit=args.mbpp_limit, shortest_first=True),
            args.mbpp_samples,
        ),
        "examples": (load_probe_problems([EXAMPLES_DIR]), args.examples_samples),
    }
    report: dict[str, Any] = {"config": {k: str(v) for k, v in vars(args).items()}}
    with solver_parts(cache_samples=True) as parts:
        for name, (problems, samples) in sets.items():
            if samples > 0:
                report[name] = summarize(run_set(problems, samples, parts, args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    for name in sets:
        if name in report:
            row = report[name]
            print(
                f"{name}: pass rate {row['longest']['pass_rate']:.3f} (longest) -> "
                f"{row['runnable']['pass_rate']:.3f} (runnable); compile errors "
                f"{row['longest']['verdicts'].get('compile_error', 0)} -> "
                f"{row['runnable']['verdicts'].get('compile_error', 0)} of {row['responses']}; "
                f"fail->pass {row['fail_to_pass']}, pass->fail {row['pass_to_fail']}"
            )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
