"""Learner step benchmark: our SDPO step against a straightforward full-vocabulary step.

    python -m benchmarks.learner [--quick] [--device cpu|cuda] [--model NAME]
                                 [--random-init-params 1e9] [--steps N] [--out PATH]

One step over a batch of 8 responses of about 400 tokens (synthetic ids; the teacher prompt is
350 tokens longer than the student's), on a LoRA adapter of the configured shape.
- `ours`: `PeftLearner.step` with the default settings (top-20 + tail from chunked hidden
  states, reverse KL, clipped advantages, IS weights, EMA teacher, micro-batches).
- `baseline`: full logits of both forwards, log-softmax on both,
  full-vocabulary reverse KL, the whole batch at once.
Each variant runs in its own subprocess so that peak memory (ru_maxrss on the CPU,
`torch.cuda.max_memory_allocated` on a GPU) is its own. Prints the ratios; writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
import torch.nn.functional as F

from service.config import DEFAULT_MODEL, EngineSettings
from service.engine.batch import collate
from service.engine.distill import autocast_for
from service.engine.host import ModelHost, lora_config, pick_device
from service.engine.learner import PeftLearner
from service.engine.model import ModelNotFoundError, resolve_model
from service.engine.types import DistillationBatch, DistillationExample

VARIANTS = ("baseline", "ours")
RESULTS = Path(__file__).resolve().parent / "results" / "learner.json"
DATA_DIR = Path(os.environ.get("RETROSPECT_DATA_DIR", "./data"))


@dataclass(frozen=True)
class Workload:
    """The shape of the measured step."""

    sequences: int
    response_tokens: int
    prompt_tokens: int
    teacher_extra_tokens: int
    timed_steps: int


def workload(args: argparse.Namespace) -> Workload:
    """Full: 8 × ~400 tokens; quick: 2 × 64 (a smoke check)."""
    if args.quick:
        return Workload(2, 64, 16, 48, 1)
    return Workload(8, 400, 70, 350, args.steps)


def synthetic_batch(shape: Workload, vocab_size: int, seed: int = 0) -> DistillationBatch:
    """Random ids; response lengths spread ±10 % around the target so padding is exercised."""
    gen = torch.Generator().manual_seed(seed)

    def ids(length: int) -> tuple[int, ...]:
        return tuple(torch.randint(3, vocab_size, (length,), generator=gen).tolist())

    examples = []
    for i in range(shape.sequences):
        spread = shape.response_tokens // 10
        length = shape.response_tokens - spread + (2 * spread * i) // max(shape.sequences - 1, 1)
        response = ids(length)
        examples.append(
            DistillationExample(
                prompt_ids=ids(shape.prompt_tokens),
                teacher_prompt_ids=ids(shape.prompt_tokens + shape.teacher_extra_tokens),
                response_ids=response,
                sampler_logprobs=tuple(-1.0 for _ in response),
            )
        )
    return DistillationBatch(tuple(examples))


def random_llama(params: float, device: torch.device, dtype: torch.dtype) -> Any:
    """A randomly initialised Llama of about `params` parameters with SmolLM2's vocabulary."""
    from transformers import AutoModelForCausalLM, LlamaConfig

    hidden, intermediate, vocab = 2048, 8192, 49152
    per_layer = 4 * hidden * hidden // 2 + hidden * hidden // 2 + 3 * hidden * intermediate
    layers = max(1, round((params - vocab * hidden) / per_layer))
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=32,
        num_key_value_heads=8,
        tie_word_embeddings=True,
        max_position_embeddings=4096,
    )
    build: Any = AutoModelForCausalLM.from_config
    with device:
        return build(config, dtype=dtype)


def random_from_config(config_dir: Path, device: torch.device, dtype: torch.dtype) -> Any:
    """Random weights in the shape of `config_dir`'s model: step time and memory do not depend
    on the values, and a GPU host cannot be sent the 538 MB converted checkpoint."""
    from transformers import AutoConfig, AutoModelForCausalLM

    build: Any = AutoModelForCausalLM.from_config
    with device:
        return build(AutoConfig.from_pretrained(config_dir), dtype=dtype)


def _model_label(args: argparse.Namespace) -> str:
    if args.random_init_from:
        return f"random weights shaped as {args.random_init_from}"
    if args.random_init_params:
        return f"random ~{args.random_init_params:.2g} params"
    return str(args.model)


def load_host(args: argparse.Namespace, settings: EngineSettings) -> ModelHost:
    """The configured model, or random weights (`--random-init-params` / `--random-init-from`)."""
    if not args.random_init_params and not args.random_init_from:
        return ModelHost.load(settings, DATA_DIR / "models")
    device = pick_device(settings.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    if args.random_init_from:
        model = random_from_config(args.random_init_from, device, dtype)
    else:
        model = random_llama(args.random_init_params, device, dtype)
    return ModelHost(model, _tokenizer_or_stub(), lora_config(settings))


def _tokenizer_or_stub() -> Any:
    """The default model's tokenizer; the learner only reads its pad id, so a stub will do."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(resolve_model(DEFAULT_MODEL, DATA_DIR / "models"))
    except (ModelNotFoundError, OSError, ValueError):  # no tokenizer files travelled
        return SimpleNamespace(pad_token_id=2, eos_token_id=2)


def baseline_stepper(
    host: ModelHost, settings: EngineSettings
) -> Callable[[DistillationBatch], float]:
    """The straightforward step: full logits, log-softmax on both, full-vocabulary KL."""
    host.add_adapter("baseline", seed=0)
    params = list(host.parameters_of("baseline").values())
    optimizer = torch.optim.AdamW(
        params, lr=settings.learning_rate, weight_decay=settings.weight_decay
    )
    autocast = autocast_for(host.device, settings.bf16_autocast)

    def step(batch: DistillationBatch) -> float:
        micro = collate(batch.examples, pad_id=0, device=host.device)
        tokens = micro.response_tokens

        def logits(model: Any, rows: Any) -> torch.Tensor:
            inputs = {"attention_mask": rows.attention_mask, "position_ids": rows.position_ids}
            out: torch.Tensor = model(input_ids=rows.input_ids, use_cache=False, **inputs).logits
            return out[:, rows.first_prediction : rows.first_prediction + tokens].float()

        with torch.no_grad(), host.active("baseline") as model, autocast:
            teacher = F.log_softmax(logits(model, micro.teacher), dim=-1)
        with host.active("baseline", trainable=True) as model, autocast:
            student = F.log_softmax(logits(model, micro.student), dim=-1)
            per_token = (student.exp() * (student - teacher)).sum(-1)
            mask = micro.response_mask
            loss = (per_token * mask).sum() / mask.sum()
            torch.autograd.backward(loss)
        torch.nn.utils.clip_grad_norm_(params, settings.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    return step


def ours_stepper(host: ModelHost, settings: EngineSettings) -> Callable[[DistillationBatch], float]:
    """`PeftLearner.step` with the settings as given."""
    learner = PeftLearner(host, settings, Path("/nonexistent"))
    learner.create("bench", seed=0)
    return lambda batch: learner.step("bench", batch).loss


def peak_memory_mb(device: torch.device) -> float:
    """Peak GPU memory allocated, or the process's peak RSS."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run one variant in this process: a warm-up step, then timed steps."""
    torch.set_num_threads(args.threads) if args.threads else None
    settings = EngineSettings(
        model=args.model,
        device=args.device,
        learning_rate=1e-5,
        micro_batch_size=args.micro_batch or EngineSettings().micro_batch_size,
        loss_chunk_tokens=args.chunk_tokens if args.chunk_tokens else None,
    )
    host = load_host(args, settings)
    device = host.device
    shape = workload(args)
    batch = synthetic_batch(shape, host.causal_lm.config.vocab_size)
    make = baseline_stepper if args.variant == "baseline" else ours_stepper
    step = make(host, settings)
    loaded_mb = peak_memory_mb(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    step(batch)  # warm-up: allocator growth, kernel selection
    seconds = []
    for _ in range(shape.timed_steps):
        _sync(device)
        start = time.perf_counter()
        step(batch)
        _sync(device)
        seconds.append(time.perf_counter() - start)
    return {
        "variant": args.variant,
        "step_seconds": seconds,
        "mean_step_seconds": sum(seconds) / len(seconds),
        "peak_memory_mb": peak_memory_mb(device),
        "memory_after_load_mb": loaded_mb,
        "parameters": sum(p.numel() for p in host.causal_lm.parameters()),
        "device": str(device),
    }


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_variant(variant: str, argv: list[str]) -> dict[str, Any]:
    """One variant in a fresh interpreter (its own peak memory)."""
    command = [sys.executable, "-m", "benchmarks.learner", "--variant", variant, *argv]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{variant} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """Both variants, their ratios, and what ran where."""
    results = {variant: run_variant(variant, argv) for variant in VARIANTS}
    ours, base = results["ours"], results["baseline"]
    # On the CPU the peak RSS includes the loaded model; the step's own share is the excess.
    step_memory = {
        v: r["peak_memory_mb"] - (r["memory_after_load_mb"] if r["device"] == "cpu" else 0.0)
        for v, r in results.items()
    }
    return {
        "workload": asdict(workload(args)),
        "model": _model_label(args),
        "device": ours["device"],
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "results": results,
        "time_ratio_ours_over_baseline": ours["mean_step_seconds"] / base["mean_step_seconds"],
        "peak_memory_ratio_ours_over_baseline": ours["peak_memory_mb"] / base["peak_memory_mb"],
        "step_memory_ratio_ours_over_baseline": step_memory["ours"]
        / max(step_memory["baseline"], 1e-9),
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.learner", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="batch 2 × 64 tokens, one timed step")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--random-init-params", type=float, default=None)
    parser.add_argument("--random-init-from", type=Path, default=None)
    parser.add_argument("--micro-batch", type=int, default=None, help="default: the setting's")
    parser.add_argument(
        "--chunk-tokens", type=int, default=256, help="loss chunk; 0 = full logits of the response"
    )
    parser.add_argument("--steps", type=int, default=2, help="timed steps after the warm-up")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run both variants (or, internally, one) and print the ratios."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.variant:
        print(json.dumps(measure(args)))
        return
    summary = report(args, argv)
    for variant, result in summary["results"].items():
        print(f"{variant:>9}: {result['mean_step_seconds']:.2f} s/step, "
              f"peak {result['peak_memory_mb']:.0f} MiB ({result['device']})")  # fmt: skip
    print(f"ours / baseline: time {summary['time_ratio_ours_over_baseline']:.2f}x, "
          f"peak memory {summary['peak_memory_ratio_ours_over_baseline']:.2f}x, "
          f"step memory {summary['step_memory_ratio_ours_over_baseline']:.2f}x")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
