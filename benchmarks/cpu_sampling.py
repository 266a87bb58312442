"""Sampling throughput of the configured model by batch size and weight dtype.

    python -m benchmarks.cpu_sampling [--batch-sizes 1,4,8,16] [--dtypes float32,bfloat16]
                                      [--max-new-tokens 128] [--repeats 2] [--out PATH]

Each (dtype, batch size) draws `repeats` seeded batches of one student prompt through the
service's own `HfSampler` (the path a round takes), the dtypes interleaved batch by batch, and
reports generated tokens, attempts and row-steps (rows x decoding steps, the work whatever
the samples' lengths) per second. The baseline is the current CPU default, measured in the
same run: fp32 weights, one batch of 8 (a round). A round is always one `sample` call of its
`attempts_per_round` rows; what this chooses between is the dtype, and whether a round would
pay to be split into smaller batches.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from service.config import EngineSettings, get_settings

RESULTS = Path(__file__).resolve().parent / "results" / "cpu_sampling.json"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sum_evens.json"
BASELINE = ("float32", 8)


@dataclass
class Cell:
    """One dtype and batch size: what its batches produced, and how long they took."""

    dtype: str
    batch_size: int
    batches: int = 0
    tokens: int = 0
    row_steps: int = 0  # rows x decoding steps: the work, whatever the samples' lengths
    seconds: float = 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds

    @property
    def attempts_per_s(self) -> float:
        return self.batch_size * self.batches / self.seconds

    @property
    def row_steps_per_s(self) -> float:
        return self.row_steps / self.seconds


def load_samplers(dtypes: Sequence[str]) -> dict[str, tuple[Any, list[int]]]:
    """One sampler per dtype, each over its own copy of the model, warmed up."""
    from sandbox.importers import load_problems
    from service.engine.hf_sampler import HfSampler
    from service.engine.host import ModelHost
    from service.engine.prompts import student_prompt_ids
    from service.engine.types import SamplingParams

    settings = get_settings()
    samplers = {}
    for dtype in dtypes:
        engine = EngineSettings.model_validate(
            {**settings.engine.model_dump(), "model_dtype": dtype, "device": "cpu"}
        )
        host = ModelHost.load(engine, settings.model_cache_dir)
        sampler = HfSampler(host)
        prompt = student_prompt_ids(host.tokenizer, load_problems(EXAMPLE)[0])
        sampler.sample(prompt, 2, SamplingParams(max_new_tokens=8, seed=0), None)
        samplers[dtype] = (sampler, prompt)
    return samplers


def measure(
    dtypes: Sequence[str], batch_sizes: Sequence[int], max_new_tokens: int, repeats: int
) -> list[Cell]:
    """Every (dtype, batch size), the dtypes interleaved batch by batch so that a change in
    the machine's load falls on all of them alike."""
    from service.engine.types import SamplingParams

    samplers = load_samplers(dtypes)
    cells = {(d, b): Cell(d, b) for b in batch_sizes for d in dtypes}
    for batch_size in batch_sizes:
        for seed in range(repeats):
            for dtype in dtypes:
                sampler, prompt = samplers[dtype]
                params = SamplingParams(max_new_tokens=max_new_tokens, seed=seed)
                began = time.perf_counter()
                samples = sampler.sample(prompt, batch_size, params, None)
                cell = cells[(dtype, batch_size)]
                cell.seconds += time.perf_counter() - began
                cell.batches += 1
                cell.tokens += sum(len(s.token_ids) for s in samples)
                cell.row_steps += batch_size * max(len(s.token_ids) for s in samples)
        for dtype in dtypes:
            print(_line(cells[(dtype, batch_size)]), flush=True)
    del samplers
    gc.collect()
    return list(cells.values())


def _line(cell: Cell) -> str:
    return (
        f"{cell.dtype:>8} batch {cell.batch_size:>2}: {cell.tokens_per_s:6.1f} tokens/s, "
        f"{cell.row_steps_per_s:6.1f} row-steps/s, {cell.attempts_per_s:5.3f} attempts/s "
        f"({cell.tokens} tokens in {cell.seconds:.1f} s)"
    )


def report(cells: Sequence[Cell], max_new_tokens: int) -> dict[str, object]:
    """Every cell with its ratio to the baseline, and the fastest way to sample a round of 8."""
    baseline = next(c for c in cells if (c.dtype, c.batch_size) == BASELINE)
    rows = [
        {
            **asdict(c),
            "tokens_per_s": c.tokens_per_s,
            "attempts_per_s": c.attempts_per_s,
            "row_steps_per_s": c.row_steps_per_s,
            "attempts_per_s_ratio": c.attempts_per_s / baseline.attempts_per_s,
            "row_steps_per_s_ratio": c.row_steps_per_s / baseline.row_steps_per_s,
        }
        for c in cells
    ]
    best = max(cells, key=lambda c: c.row_steps_per_s)
    return {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        },
        "max_new_tokens": max_new_tokens,
        "baseline": {"dtype": BASELINE[0], "batch_size": BASELINE[1]},
        "cells": rows,
        "fastest": {"dtype": best.dtype, "batch_size": best.batch_size},
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-sizes", default="1,4,8,16")
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    batch_sizes = sorted({int(b) for b in args.batch_sizes.split(",")} | {BASELINE[1]})
    dtypes = list(dict.fromkeys([BASELINE[0], *args.dtypes.split(",")]))
    cells = measure(dtypes, batch_sizes, args.max_new_tokens, args.repeats)
    result = report(cells, args.max_new_tokens)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    for row in result["cells"]:  # type: ignore[attr-defined]
        print(
            f"{row['dtype']:>8} batch {row['batch_size']:>2}: "
            f"{row['attempts_per_s_ratio']:.2f}x the baseline's attempts/s, "
            f"{row['row_steps_per_s_ratio']:.2f}x its row-steps/s"
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
