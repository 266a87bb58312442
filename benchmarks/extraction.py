"""The base model's pass rate and verdict mix under each extraction rule, on the same samples.

    python -m benchmarks.extraction [--model NAME] [--prompt reasoning|concise]
                                    [--mbpp-order shortest|longer-half] [--mbpp-limit 40]
                                    [--mbpp-samples 4] [--examples-samples 8]
                                    [--max-new-tokens 256] [--sampler auto|vllm] [--seed 0]
                                    [--out PATH]

Samples i.i.d. attempts from the base model (student prompt, one seed per problem set) on an
MBPP pool (`shortest`: the `limit` problems with the shortest references, the 135M model's
screening pool; `longer-half`: of the first `2 * limit` problems, the `limit` with the longest
references, problems a small coder model does not always solve) and on `examples/`, and judges
every response on all tests under each rule: `longest` (the paper's), `runnable` and `solution`
(the default: `runnable` without the top-level test code). All rules see the very same
responses, so every difference is the rule's; a response whose judged code two rules agree on is
judged once. Reports per rule the pass rate (95% bootstrap CI over problems) and the verdict
mix, and for each step between rules the responses whose verdict changed (from -> to).

Each problem's judged responses are appended to a journal beside `--out` (`<out>.jsonl`) as it
ends, so a cut run resumes (the same arguments skip what is there; seeded samples are cached),
and `--summarize-only` writes the report from the journal as it stands.
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
from sandbox.results import Verdict
from sandbox.runner import Sandbox
from service.probe.attempts import ProbeProblem
from service.probe.problems import load_probe_problems
from service.probe.stats import bootstrap_mean

RESULTS = Path(__file__).resolve().parent / "results" / "extraction.json"
RULES = (Extraction.LONGEST, Extraction.RUNNABLE, Extraction.SOLUTION)
STEPS = tuple(zip(RULES, RULES[1:], strict=False))  # (before, after): each rule's change


@dataclass(frozen=True)
class Judged:
    """One response's verdict under each rule, and what the rules judged."""

    problem: str
    verdicts: dict[str, str]
    code_differs: bool  # not every rule judged the same code
    dropped: bool = False  # the `solution` rule left test code out
    truncated: bool = False


def judge_all(
    problem: ProbeProblem,
    texts: Sequence[str],
    sandboxes: dict[Extraction, Sandbox],
    truncated: Sequence[bool] | None = None,
) -> list[Judged]:
    """Each response's verdict on all tests under each rule (each distinct code judged once)."""
    judged = []
    for i, text in enumerate(texts):
        solutions = {rule: sandboxes[rule].extract(text, problem.problem) for rule in RULES}
        codes = {rule: None if s is None else s.code for rule, s in solutions.items()}
        by_code: dict[str | None, str] = {}
        verdicts: dict[str, str] = {}
        for rule in RULES:
            if codes[rule] not in by_code:
                result = sandboxes[rule].run_suite(text, problem.problem, "all")
                by_code[codes[rule]] = result.verdict.value
            verdicts[rule.value] = by_code[codes[rule]]
        solution = solutions[Extraction.SOLUTION]
        cut = bool(truncated[i]) if truncated is not None else False
        dropped = solution is not None and bool(solution.dropped)
        judged.append(Judged(problem.id, verdicts, len(by_code) > 1, dropped, cut))
    return judged


def summarize(judged: Sequence[Judged]) -> dict[str, Any]:
    """Per rule: pass rate (CI over problems), verdict counts; per step: what changed."""
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
    out["test_code_dropped"] = sum(j.dropped for j in judged)
    out["truncated"] = sum(j.truncated for j in judged)
    out["changes"] = {f"{a.value}->{b.value}": _changes(judged, a, b) for a, b in STEPS}
    return out


def _changes(judged: Sequence[Judged], before: Extraction, after: Extraction) -> dict[str, Any]:
    moved = Counter(
        f"{j.verdicts[before.value]}->{j.verdicts[after.value]}"
        for j in judged
        if j.verdicts[before.value] != j.verdicts[after.value]
    )
    accepted = Verdict.ACCEPTED.value
    return {
        "fail_to_pass": sum(n for k, n in moved.items() if k.endswith(f"->{accepted}")),
        "pass_to_fail": sum(n for k, n in moved.items() if k.startswith(f"{accepted}->")),
        "verdict_changes": dict(moved.most_common()),
    }


def _rate(judged: Sequence[Judged], rule: str) -> float:
    return sum(j.verdicts[rule] == Verdict.ACCEPTED.value for j in judged) / len(judged)


def mbpp_pool(path: Path, limit: int, order: str) -> list[ProbeProblem]:
    """`shortest`: the `limit` shortest references; `longer-half`: of the first `2 * limit`
    problems, the `limit` with the longest references."""
    if order == "shortest":
        return load_probe_problems([path], limit=limit, shortest_first=True)
    pool = load_probe_problems([path], limit=2 * limit)
    return sorted(pool, key=lambda p: len(p.reference), reverse=True)[:limit]


def read_journal(path: Path) -> dict[str, list[Judged]]:
    """Per set name, the responses judged so far (empty without a journal)."""
    sets: dict[str, list[Judged]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            sets.setdefault(entry.pop("set"), []).append(Judged(**entry))
    return sets


def run_set(
    name: str,
    problems: Sequence[ProbeProblem],
    samples: int,
    parts: Any,
    args: argparse.Namespace,
) -> None:
    """Sample and judge each problem of one set not yet in the journal, appending to it."""
    from service.engine.types import SamplingParams
    from service.solver.prompts import PromptStyle, student_prompt_ids

    # Every rule judges through the benchmark's one warm pool (closed with `parts`).
    sandboxes = {rule: Sandbox(parts.judge.backend, extraction=rule) for rule in RULES}
    params = SamplingParams(max_new_tokens=args.max_new_tokens, seed=args.seed)
    style = PromptStyle(args.prompt)
    journal = journal_path(args.out)
    done = {j.problem for j in read_journal(journal).get(name, [])}
    for problem in problems:
        if problem.id in done:
            continue
        prompt = student_prompt_ids(parts.tokenizer, problem.problem, style=style)
        found = parts.sampler.sample(prompt, samples, params, None)
        texts = [s.text for s in found]
        judged = judge_all(problem, texts, sandboxes, [s.truncated for s in found])
        with journal.open("a") as out:
            for item in judged:
                out.write(json.dumps({"set": name, **item.__dict__}) + "\n")
        passes = {r.value: sum(j.verdicts[r.value] == "accepted" for j in judged) for r in RULES}
        print(f"{problem.id}: passes {passes}", flush=True)


def journal_path(out: Path) -> Path:
    """Where a run's judged responses accumulate: beside its report."""
    return out.with_suffix(".jsonl")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="the engine's model (a name, folder or hub id)")
    parser.add_argument("--prompt", default="reasoning", choices=["reasoning", "concise"])
    parser.add_argument("--mbpp-order", default="shortest", choices=["shortest", "longer-half"])
    parser.add_argument("--mbpp-limit", type=int, default=40)
    parser.add_argument("--mbpp-samples", type=int, default=4)
    parser.add_argument("--examples-samples", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--sampler", default=None, help="the engine's sampler (default: auto)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mbpp", type=Path, default=MBPP_PATH)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--summarize-only", action="store_true", help="write the report from the journal"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    from benchmarks.discovery.engine import solver_parts

    sets = {
        "mbpp": (mbpp_pool(args.mbpp, args.mbpp_limit, args.mbpp_order), args.mbpp_samples),
        "examples": (load_probe_problems([EXAMPLES_DIR]), args.examples_samples),
    }
    overrides = {k: v for k, v in {"model": args.model, "sampler": args.sampler}.items() if v}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not args.summarize_only:
        with solver_parts(overrides or None, cache_samples=True) as parts:
            for name, (problems, samples) in sets.items():
                if samples > 0:
                    run_set(name, problems, samples, parts, args)
    report: dict[str, Any] = {"config": {k: str(v) for k, v in vars(args).items()}}
    for name, judged in read_journal(journal_path(args.out)).items():
        report[name] = summarize(judged)
    args.out.write_text(json.dumps(report, indent=2))
    for name in sets:
        if name in report:
            print(describe(name, report[name]))
    print(f"wrote {args.out}")


def describe(name: str, row: dict[str, Any]) -> str:
    """One line per set: each rule's pass rate and compile errors, then what each step moved."""
    rates = ", ".join(
        f"{rule.value} {row[rule.value]['pass_rate']:.3f} "
        f"({row[rule.value]['verdicts'].get('compile_error', 0)} compile errors)"
        for rule in RULES
    )
    steps = "; ".join(
        f"{step}: fail->pass {c['fail_to_pass']}, pass->fail {c['pass_to_fail']}"
        for step, c in row["changes"].items()
    )
    return (
        f"{name}: {row['responses']} responses ({row['truncated']} cut, test code dropped from "
        f"{row['test_code_dropped']}); pass rate {rates}; {steps}"
    )


if __name__ == "__main__":
    main()
