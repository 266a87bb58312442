"""Does the concise prompt save tokens without losing passes? Both styles on the same problems.

    python -m benchmarks.prompt_styles [--model qwen2.5-coder-0.5b-instruct] [--limit 20]
                                       [--samples 4] [--max-new-tokens 256] [--seed 0] [--out PATH]

Samples `samples` i.i.d. attempts per problem from the base model under each prompt style
(`service.solver.prompts.PromptStyle`), with the same seeds, on the MBPP problems with the
longest references of the first `limit * 2` (problems a small coder model does not always
solve), and judges each response on all tests with the service's sandbox and extraction rule.
Reports per style: the pass rate (95% bootstrap CI over problems), mean tokens, the share cut at
the token limit and the verdict mix; the baseline is the default style (`reasoning`), measured
in the same run, and each style prints its ratio of tokens and of passes to it.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.discovery.problems import MBPP_PATH
from benchmarks.extraction import mbpp_pool
from service.probe.attempts import ProbeProblem
from service.probe.stats import bootstrap_mean
from service.solver.prompts import DEFAULT_PROMPT_STYLE, PromptStyle

RESULTS = Path(__file__).resolve().parent / "results" / "prompt_styles.json"


@dataclass(frozen=True)
class Judged:
    """One response: its problem, style, verdict, length and whether it was cut."""

    problem: str
    style: str
    verdict: str
    tokens: int
    truncated: bool


def run(problems: Sequence[ProbeProblem], parts: Any, args: argparse.Namespace) -> list[Judged]:
    from service.engine.types import SamplingParams
    from service.solver.prompts import student_prompt_ids

    params = SamplingParams(max_new_tokens=args.max_new_tokens, seed=args.seed)
    judged: list[Judged] = []
    for problem in problems:
        for style in PromptStyle:
            prompt = student_prompt_ids(parts.tokenizer, problem.problem, style=style)
            for sample in parts.sampler.sample(prompt, args.samples, params, None):
                verdict = parts.judge.run_suite(sample.text, problem.problem, "all").verdict
                judged.append(Judged(problem.id, style.value, verdict.value,
                                     len(sample.token_ids), sample.truncated))  # fmt: skip
            mine = judged[-args.samples :]
            print(f"{problem.id} {style.value:>9}: "
                  f"{sum(j.verdict == 'accepted' for j in mine)}/{args.samples} pass, "
                  f"{sum(j.tokens for j in mine) / args.samples:.0f} tokens, "
                  f"{sum(j.truncated for j in mine)} cut", flush=True)  # fmt: skip
    return judged


def summarize(judged: Sequence[Judged]) -> dict[str, Any]:
    problems = sorted({j.problem for j in judged})
    out: dict[str, Any] = {"problems": len(problems), "responses": len(judged)}
    for style in PromptStyle:
        mine = [j for j in judged if j.style == style.value]
        rates = [_pass_rate([j for j in mine if j.problem == p]) for p in problems]
        estimate = bootstrap_mean(rates)
        out[style.value] = {
            "pass_rate": _pass_rate(mine),
            "pass_rate_by_problem": {
                "mean": estimate.mean,
                "low": estimate.low,
                "high": estimate.high,
            },  # fmt: skip
            "problems_solved": sum(rate > 0 for rate in rates),
            "mean_tokens": sum(j.tokens for j in mine) / len(mine),
            "truncated_share": sum(j.truncated for j in mine) / len(mine),
            "verdicts": dict(Counter(j.verdict for j in mine).most_common()),
        }
    base = out[DEFAULT_PROMPT_STYLE.value]
    for style in PromptStyle:
        row = out[style.value]
        row["tokens_ratio_to_baseline"] = row["mean_tokens"] / base["mean_tokens"]
        row["passes_minus_baseline"] = row["pass_rate"] - base["pass_rate"]
    return out


def _pass_rate(judged: Sequence[Judged]) -> float:
    return sum(j.verdict == "accepted" for j in judged) / len(judged)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mbpp", type=Path, default=MBPP_PATH)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    from benchmarks.discovery.engine import solver_parts

    problems = mbpp_pool(args.mbpp, args.limit, "longer-half")
    with solver_parts({"model": args.model}) as parts:
        summary = summarize(run(problems, parts, args))
    report = {"config": {k: str(v) for k, v in vars(args).items()}, **summary}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    for style in PromptStyle:
        row = summary[style.value]
        ci = row["pass_rate_by_problem"]
        print(
            f"{style.value:>9}: pass {row['pass_rate']:.3f} [{ci['low']:.3f}, {ci['high']:.3f}]"
            f", {row['mean_tokens']:.0f} tokens ({row['tokens_ratio_to_baseline']:.2f}x the "
            f"baseline), {row['truncated_share']:.0%} cut, {row['problems_solved']} solved"
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
