"""`python -m benchmarks.gpu_smoke [--shape qwen3-8b] [--attempts 16] [--out FILE]`.

One round of the engine on the configured device (`RETROSPECT_ENGINE__DEVICE`, default
`auto`): the memory plan, a round of sampled attempts judged in the sandbox, one SDPO step,
its publish, and a second round with the new adapter. `--force-learn` adds a public test that
contradicts the first, so round 1 cannot pass, and fails unless a learner step and a publish
happened. `--learner-only` takes one measured learner step on a batch whose student pass fills
the plan's micro-batch instead (no sampling, no sandbox): the check that the plan's token
budget bounds the learner's peak. On CUDA the JSON has the device's free memory after the
sampler started and at each step's allocator peak. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.gpu_smoke.engine import SmokeEngine, build
from benchmarks.gpu_smoke.measured import StepRecord
from benchmarks.gpu_smoke.memory import ensure_exact_cpu_peaks
from benchmarks.gpu_smoke.round import learner_only_step, one_round
from service.config import EngineSettings, Settings, get_settings
from service.engine.memory_plan import MemoryPlan

MODULE = "benchmarks.gpu_smoke"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__)
    parser.add_argument(
        "--shape",
        help="random weights in this shape (benchmarks/shapes/NAME or a folder with config.json)",
    )
    parser.add_argument(
        "--tokenizer",
        type=Path,
        help="tokenizer folder (default: the model's, else the default model's)",
    )
    parser.add_argument("--device", help="overrides RETROSPECT_ENGINE__DEVICE")
    parser.add_argument("--sampler", help="overrides RETROSPECT_ENGINE__SAMPLER")
    parser.add_argument("--attempts", type=int, default=16, help="attempts per round")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--problem", type=Path, default=Path("examples/sum_evens.json"))
    parser.add_argument(
        "--learner-only", action="store_true", help="one measured learner step, no sampling"
    )
    parser.add_argument(
        "--force-learn",
        action="store_true",
        help="add a contradicting public test so round 1 cannot pass; fail unless a learner "
        "step and a publish happened",
    )
    parser.add_argument(
        "--micro-batch-tokens", type=int, help="cap the plan's micro-batch (tokens)"
    )
    parser.add_argument(
        "--max-model-len", type=int, help="overrides RETROSPECT_ENGINE__MAX_MODEL_LEN"
    )
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    return parser.parse_args(argv)  # fmt: skip


def settings_for(args: argparse.Namespace) -> Settings:
    """The worker's settings with this run's overrides."""
    settings = get_settings()
    overrides: dict[str, Any] = {
        "device": args.device,
        "sampler": args.sampler,
        "micro_batch_tokens": args.micro_batch_tokens,
        "max_model_len": args.max_model_len,
    }
    chosen = {key: value for key, value in overrides.items() if value is not None}
    engine = EngineSettings.model_validate({**settings.engine.model_dump(), **chosen})
    return settings.model_copy(update={"engine": engine})


def plan_json(plan: MemoryPlan) -> dict[str, Any]:
    """The plan's figures and its log lines."""
    return {
        "lines": plan.lines(),
        "usable_bytes": plan.usable_bytes,
        "planned_bytes": plan.planned_bytes,
        "gpu_memory_utilization": plan.gpu_memory_utilization,
        "vllm": None if plan.vllm is None else asdict(plan.vllm),
        "learner": asdict(plan.learner),
    }


def step_json(plan: MemoryPlan, step: StepRecord) -> dict[str, Any]:
    """A measured step beside the plan's prediction for the same micro-batch."""
    learner = plan.learner
    predicted = learner.step_bytes(
        step.tokens, response_tokens=step.response_tokens, first=step.first
    )
    return {
        "micro_batch_tokens": step.tokens,
        "response_tokens": step.response_tokens,
        "predicted_step_bytes": predicted,
        "measured_step_bytes": step.peak_bytes,
        "measured_over_predicted": round(step.peak_bytes / predicted, 3),
        "predicted_peak_bytes": plan.learner.peak_bytes(step.tokens),
        "seconds": round(step.seconds, 3),
        "device_free_at_peak_bytes": step.device_free_at_peak_bytes,
    }


def report(engine: SmokeEngine, args: argparse.Namespace, extra: dict[str, Any]) -> dict[str, Any]:
    """The JSON the command prints."""
    return {
        "device": str(engine.device),
        "model": engine.model_label,
        "sampler": engine.sampler_kind.value,
        "plan": plan_json(engine.plan),
        "device_free_after_sampler_bytes": engine.free_after_sampler_bytes,
        "learner_steps": [step_json(engine.plan, step) for step in engine.learner.steps],
        **extra,
    }


def main(argv: list[str] | None = None) -> None:
    """Run it and print the JSON."""
    args = parse_args(argv)
    settings = settings_for(args)
    if settings.engine.device == "cpu" or (settings.engine.device == "auto" and not _cuda()):
        ensure_exact_cpu_peaks(MODULE)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    engine = build(settings, shape=args.shape, tokenizer_dir=args.tokenizer)
    try:
        if args.learner_only:
            extra = learner_only_step(engine)
        else:
            extra = one_round(engine, args.problem, attempts=args.attempts,
                              max_new_tokens=args.max_new_tokens,
                              force_learn=args.force_learn)  # fmt: skip
        result = report(engine, args, extra)
    finally:
        engine.close()
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


if __name__ == "__main__":
    main()
