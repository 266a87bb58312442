"""`python -m benchmarks.retrospection --config smoke|full|gpu`: does the self-teacher know better?

For problems with reference solutions, samples failing attempts from the base model, renders
their feedback as the solver does, and scores the reference (and the attempt's own tokens)
under the student prompt, the teacher prompt with that feedback, and the teacher prompt with
another problem's feedback (the control: the same form, none of the information). Writes
`retrospection.json` (per problem and overall, 95% bootstrap CIs over problems) and
`retrospection.png` into `--out-dir`. The baseline each gain is measured against is the
student (no feedback) and the control (feedback of another problem), in the same run.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.discovery.engine import solver_parts
from benchmarks.discovery.problems import EXAMPLES_DIR, MBPP_PATH
from benchmarks.extraction import mbpp_pool
from benchmarks.retrospection.config import CONFIGS, Config
from benchmarks.retrospection.plot import plot
from service.probe.attempts import Failure, ProbeProblem
from service.probe.problems import load_probe_problems
from service.probe.run import ProbeConfig, ProbeParts, run_probe
from service.solver.prompts import PromptStyle


def parse_args(argv: Sequence[str] | None = None) -> tuple[Config, argparse.Namespace]:
    """The config with the command line's overrides, and the command line itself."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="smoke")
    parser.add_argument("--limit", type=int, help="first N problems of the set")
    parser.add_argument("--attempts", type=int, help="attempts per problem")
    parser.add_argument("--max-new-tokens", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--model", help="the engine's model (a name, folder or hub id)")
    parser.add_argument("--prompt", default="reasoning", choices=["reasoning", "concise"])
    parser.add_argument(
        "--random-weights-from",
        type=Path,
        help="a model folder with config and tokenizer only: random weights in its shape "
        "(timing only: the figures mean nothing)",
    )
    parser.add_argument("--mbpp", type=Path, default=MBPP_PATH)
    parser.add_argument(
        "--mbpp-order",
        choices=["config", "shortest", "longer-half"],
        default="config",
        help="which MBPP problems: the config's order, or as `benchmarks.extraction` picks them",
    )
    parser.add_argument("--out-dir", type=Path, default=Path("benchmarks/results/retrospection"))
    args = parser.parse_args(argv)
    config = CONFIGS[args.config].with_overrides(
        limit=args.limit,
        attempts_per_problem=args.attempts,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
    )
    return config, args


def problems_of(config: Config, mbpp: Path, order: str = "config") -> list[ProbeProblem]:
    """The config's problems that have references, in its order (or, for MBPP, `order` as
    `benchmarks.extraction.mbpp_pool` picks them)."""
    if config.problem_set == "mbpp" and order != "config" and config.limit is not None:
        return mbpp_pool(mbpp, config.limit, order)
    path = EXAMPLES_DIR if config.problem_set == "examples" else mbpp
    return load_probe_problems([path], limit=config.limit, shortest_first=config.shortest_first)


def main(argv: Sequence[str] | None = None) -> None:
    config, args = parse_args(argv)
    problems = problems_of(config, args.mbpp, args.mbpp_order)
    probe = ProbeConfig(
        attempts_per_problem=config.attempts_per_problem,
        max_new_tokens=config.max_new_tokens,
        seed=config.seed,
        prompt_style=PromptStyle(args.prompt),
    )
    overrides = {"model": args.model} if args.model else None
    began = time.perf_counter()
    with solver_parts(
        overrides, random_weights_from=args.random_weights_from, cache_samples=True
    ) as parts:
        host = parts.learner.host  # type: ignore[union-attr]
        probe_parts = ProbeParts(parts.sampler, parts.judge, host, parts.tokenizer)
        result = run_probe(problems, probe_parts, probe, on_problem=_show)
    measured = result.to_json()
    report: dict[str, Any] = {
        **measured,
        "config": config.__dict__
        | {"model": args.model, "random_weights": args.random_weights_from is not None},
        "probe_config": measured["config"],
        "problems": [p.id for p in problems],
        "wall_s": time.perf_counter() - began,
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "retrospection.json").write_text(json.dumps(report, indent=2))
    plot(report, args.out_dir / "retrospection.png")
    _print(report)


def _show(problem: ProbeProblem, failures: list[Failure]) -> None:
    print(f"{problem.id}: {len(failures)} failing attempts", flush=True)


def _print(report: dict[str, Any]) -> None:
    summary = report["summary"]
    print(f"{summary['attempts']} failing attempts on {summary['problems']} problems")
    for name, comparison in summary["comparisons"].items():
        gain = comparison["gain"]
        print(
            f"{name}: {gain['mean']:+.4f} [{gain['low']:+.4f}, {gain['high']:+.4f}] nats/token, "
            f"positive in {comparison['share_positive']:.0%} of attempts"
        )
    print(summary["verdict"])


if __name__ == "__main__":
    main()
