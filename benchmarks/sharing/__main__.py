"""`python -m benchmarks.sharing [--jobs 1,2,4] [--strategies sdpo,best_of_k] [--out-dir DIR]`.

For each strategy and each N: the same N jobs (seeds 0..N-1, a problem no program can pass, so
that every job spends its whole budget) run one at a time on one engine, then all at once
through the shared sampler, as a worker with `max_jobs=N` runs them. Prints a line per N with
the attempts-per-second ratio and writes `sharing.json`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from benchmarks.data import unpassable_example
from benchmarks.gpu_smoke.memory import PeakMeter
from benchmarks.sharing.runs import BatchLog, JobPlan, RunResult, jobs_json, run_jobs, same_attempts
from sandbox import Sandbox, make_backend
from service.config import get_settings
from service.engine.factory import Engine, shared_sampler
from service.engine.hf_sampler import HfSampler
from service.engine.sharing import SharedSampler
from service.engine.types import Sampler
from service.solver.budget import Budget
from service.solver.loop import SolverParts

MODULE = "benchmarks.sharing"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__)
    parser.add_argument("--jobs", default="1,2,4", help="the N to measure, comma-separated")
    parser.add_argument("--strategies", default="sdpo,best_of_k")
    parser.add_argument("--attempts", type=int, default=16, help="each job's budget")
    parser.add_argument("--attempts-per-round", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--out-dir", type=Path, default=Path("benchmarks/results/sharing"))
    return parser.parse_args(argv)


def measured(run: Any, device: torch.device) -> tuple[RunResult, int]:
    """Run and return the result with the peak memory it added."""
    meter = PeakMeter(device)
    with meter.measure():
        result = run()
    return result, meter.peak_bytes


def compare(plan: JobPlan, count: int, engine: Engine, sandbox: Sandbox) -> dict[str, Any]:
    """The N jobs one at a time, then together; their figures and the ratio."""
    inner = engine.sampler.inner if isinstance(engine.sampler, SharedSampler) else engine.sampler
    assert isinstance(inner, HfSampler), "the benchmark shares the transformers sampler"

    def parts(sampler: Sampler) -> SolverParts:
        return SolverParts(sampler, sandbox, engine.host.tokenizer, engine.learner)

    device = engine.host.device
    alone, alone_peak = measured(
        lambda: run_jobs(plan, count, parts, inner, together=False), device
    )
    shared = shared_sampler(inner)
    log = BatchLog(inner)
    shared.inner = log  # the shared sampler as the worker builds it, its batches timed
    together, together_peak = measured(
        lambda: run_jobs(plan, count, parts, shared, together=True), device
    )
    return {
        "strategy": plan.strategy,
        "jobs": count,
        "alone": _run_json(alone, alone_peak),
        "together": _run_json(together, together_peak),
        "attempts_per_s_ratio": round(together.attempts_per_s / alone.attempts_per_s, 3),
        "same_attempts": same_attempts(alone, together),
        "sampling_batches": shared.stats.batches,
        "batches": log.batches,
    }


def _run_json(run: RunResult, peak_bytes: int) -> dict[str, Any]:
    return {
        "wall_s": round(run.wall_s, 2),
        "attempts": run.attempts,
        "attempts_per_s": round(run.attempts_per_s, 4),
        "rounds_per_min": round(run.rounds_per_min, 3),
        "peak_bytes": peak_bytes,
        "jobs": jobs_json(run),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run every (strategy, N), print a line each, write sharing.json."""
    args = parse_args(argv)
    settings = get_settings()
    from service.engine.factory import build_engine

    counts = [int(n) for n in args.jobs.split(",")]
    worker = settings.worker.model_copy(update={"max_jobs": max(counts)})
    engine = build_engine(settings.model_copy(update={"worker": worker}))
    sandbox = Sandbox(make_backend())
    budget = Budget(max_attempts=args.attempts, attempts_per_round=args.attempts_per_round)
    rows = []
    try:
        for strategy in args.strategies.split(","):
            plan = JobPlan(unpassable_example(), strategy, budget, args.max_new_tokens)
            for count in counts:
                row = compare(plan, count, engine, sandbox)
                rows.append(row)
                print(
                    f"{strategy} x{count}: {row['together']['attempts_per_s']:.3f} attempts/s "
                    f"together vs {row['alone']['attempts_per_s']:.3f} one at a time = "
                    f"{row['attempts_per_s_ratio']:.2f}x; same attempts {row['same_attempts']}",
                    flush=True,
                )
    finally:
        sandbox.close()
    report = {"settings": vars(args) | {"out_dir": str(args.out_dir)}, "runs": rows}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "sharing.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
