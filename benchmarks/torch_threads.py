"""`python -m benchmarks.torch_threads [--forwards 60] [--repeats 3]`: why the engine runs all
torch work on one thread.

Decoding-sized forwards (8 rows, one new token each) of random weights in the default model's
shape, timed three ways in one process, in this order, since a thread's OpenMP team is never
given back:

1. `one thread`: on the one thread that has ever run torch ops (what `on_torch_thread` gives);
   the baseline;
2. `second thread`: the same forwards on a second thread, the first one idle;
3. `taking turns`: the forwards alternating between the two threads, one at a time (jobs on
   threads of their own, sharing the model under its lock).

Prints seconds per forward and each way's ratio to the baseline; writes `torch_threads.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from benchmarks.learner import random_from_config
from service.engine.torch_thread import TorchThread

SHAPE = Path(__file__).parent / "shapes" / "smollm2-135m"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.torch_threads", description=__doc__)
    parser.add_argument("--forwards", type=int, default=60, help="forwards per timing")
    parser.add_argument("--repeats", type=int, default=3, help="timings per way (median kept)")
    parser.add_argument("--threads", type=int, default=2, help="torch's intra-op threads")
    parser.add_argument("--out-dir", type=Path, default=Path("benchmarks/results"))
    return parser.parse_args(argv)


def timed(forward: Callable[[], None], forwards: int, repeats: int) -> float:
    """Median seconds per forward over `repeats` timings of `forwards` calls."""
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(forwards):
            forward()
        runs.append((time.perf_counter() - start) / forwards)
    return statistics.median(runs)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Time the three ways, print them with their ratios, write the JSON."""
    args = parse_args(argv)
    first, second = TorchThread(name="first"), TorchThread(name="second")
    for thread in (first, second):
        thread.run(torch.set_num_threads, args.threads)
    model = first.run(random_from_config, SHAPE, torch.device("cpu"), torch.float32).eval()
    ids = torch.randint(0, model.config.vocab_size, (8, 1))

    def forward() -> None:
        with torch.no_grad():
            model(ids)

    turn = iter(range(10**9))

    def alternating() -> None:
        (first if next(turn) % 2 == 0 else second).run(forward)

    first.run(timed, forward, 5, 1)  # warm-up
    seconds = {"one thread": first.run(timed, forward, args.forwards, args.repeats)}
    seconds["second thread"] = second.run(timed, forward, args.forwards, args.repeats)
    seconds["taking turns"] = timed(alternating, args.forwards, args.repeats)
    baseline = seconds["one thread"]
    report = {
        "settings": {
            "forwards": args.forwards,
            "repeats": args.repeats,
            "threads": args.threads,
            "cores": os.cpu_count(),
        },
        "seconds_per_forward": {way: round(s, 5) for way, s in seconds.items()},
        "ratio_to_one_thread": {way: round(s / baseline, 3) for way, s in seconds.items()},
    }
    for way, s in seconds.items():
        print(f"{way:>13}: {1000 * s:7.2f} ms per forward = {s / baseline:.2f}x one thread")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "torch_threads.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
