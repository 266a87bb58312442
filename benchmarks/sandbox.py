"""Sandbox throughput: fresh container per attempt vs warm pool vs a bare host subprocess.

    python -m benchmarks.sandbox [--attempts 40] [--out benchmarks/results/sandbox.json]

Every mode runs the same harness on the same request, so the ratios isolate the cost of the
isolation itself. The bare mode runs the harness with the host's Python and no isolation at
all: the physical baseline, never a backend to use. Targets (issue "Foundation and the
hardened Docker sandbox"): warm pool ≥ 0.5x the bare attempts/s, and a median overhead per
attempt ≤ 100 ms over the program's own run time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sandbox import Limits, Problem, Sandbox
from sandbox.backends.base import HARNESS_SOURCE, Backend, HarnessRun
from sandbox.backends.docker import DockerBackend
from sandbox.compare import outputs_match
from sandbox.judge import HarnessOptions
from sandbox.problem import Compare, CompareMode

TRIVIAL = Problem.model_validate(
    {
        "title": "echo",
        "statement": "print the input",
        "tests": {"kind": "stdio", "public": [{"input": "7\n", "output": "7"}]},
    }
)
FIVE_CASES = Problem.model_validate(
    {
        "title": "sum",
        "statement": "sum two numbers",
        "tests": {
            "kind": "stdio",
            "public": [{"input": f"{i} {i}\n", "output": str(2 * i)} for i in range(5)],
        },
    }
)
PROGRAMS = {
    "trivial": "print(input())\n",
    "five_cases": "a, b = map(int, input().split())\nprint(a + b)\n",
}
SUITES = {"trivial": TRIVIAL, "five_cases": FIVE_CASES}


class BareBackend:
    """The harness on the host, unisolated: the baseline, never for untrusted code."""

    name = "bare"

    def __init__(self) -> None:
        self._workdir = tempfile.TemporaryDirectory(prefix="retrospect-bare-")

    def options(self) -> HarnessOptions:
        """No uid change and nothing scrubbed: this is the host."""
        return HarnessOptions(drop_uid=None, scrub_dirs=(), workdir=self._workdir.name)

    def execute(self, request: bytes, limits: Limits, n_cases: int) -> HarnessRun:
        """Run the harness with this Python."""
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-I", "-c", HARNESS_SOURCE],
            input=request,
            capture_output=True,
            check=False,
            timeout=limits.attempt_wall_limit_s(n_cases),
        )
        return HarnessRun(
            done.stdout, done.stderr, done.returncode, False, time.monotonic() - started
        )

    def close(self) -> None:
        """Remove the work directory."""
        self._workdir.cleanup()


@dataclass
class Measurement:
    """Throughput of one mode on one suite at one concurrency."""

    mode: str
    suite: str
    concurrency: int
    attempts: int
    seconds: float
    attempts_per_s: float
    cases_per_s: float
    median_attempt_s: float


def measure(
    mode: str, backend: Backend, suite: str, concurrency: int, attempts: int
) -> Measurement:
    """Judge `attempts` programs (all must pass) and time them."""
    sandbox = Sandbox(backend)
    problem, program = SUITES[suite], PROGRAMS[suite]
    assert sandbox.run_suite(program, problem).accepted  # warm-up, and a sanity check
    latencies: list[float] = []

    def one(_: int) -> None:
        started = time.monotonic()
        result = sandbox.run_suite(program, problem)
        latencies.append(time.monotonic() - started)
        if not result.accepted:
            raise RuntimeError(f"{mode}: a correct program was judged {result.verdict}")

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(attempts)))
    seconds = time.monotonic() - started
    n_cases = len(problem.tests.public)
    return Measurement(
        mode,
        suite,
        concurrency,
        attempts,
        seconds,
        attempts / seconds,
        attempts * n_cases / seconds,
        statistics.median(latencies),
    )


def make_backends(concurrency: int) -> dict[str, Backend]:
    """The three modes; a fresh container per attempt is a pool that never reuses one."""
    return {
        "bare": BareBackend(),
        "warm_pool": DockerBackend(concurrency=concurrency),
        "fresh_container": DockerBackend(concurrency=concurrency, max_uses=1),
    }


def compare_megabyte_line_s() -> float:
    """Seconds the host takes to compare a 1 MB line of digits ending in a letter in float
    mode (a backtracking pattern once made this hours)."""
    line = "1" * 1_000_000 + "x"
    started = time.perf_counter()
    outputs_match("1", line, Compare(mode=CompareMode.FLOAT))
    outputs_match(line, line[:-1] + ".0", Compare(mode=CompareMode.FLOAT))
    return time.perf_counter() - started


def run(attempts: int) -> dict[str, Any]:
    """Every mode × suite × concurrency, with ratios against the bare baseline."""
    rows: list[Measurement] = []
    for concurrency in (1, 4):
        backends = make_backends(concurrency)
        try:
            for suite in SUITES:
                for mode, backend in backends.items():
                    rows.append(measure(mode, backend, suite, concurrency, attempts))
                    print(_line(rows[-1]), flush=True)
        finally:
            for backend in backends.values():
                backend.close()
    summary = summarize(rows)
    summary["float_compare_1mb_line_s"] = compare_megabyte_line_s()
    return {"rows": [asdict(r) for r in rows], "summary": summary}


def summarize(rows: list[Measurement]) -> dict[str, float]:
    """Ratios against the bare baseline of the same suite and concurrency."""
    by_key = {(r.mode, r.suite, r.concurrency): r for r in rows}
    summary: dict[str, float] = {}
    for (mode, suite, concurrency), row in by_key.items():
        bare = by_key[("bare", suite, concurrency)]
        if mode != "bare":
            key = f"{mode}/{suite}/c{concurrency}"
            summary[f"{key}/attempts_ratio_vs_bare"] = row.attempts_per_s / bare.attempts_per_s
            summary[f"{key}/median_overhead_ms"] = 1000 * (
                row.median_attempt_s - bare.median_attempt_s
            )
    return summary


def _line(row: Measurement) -> str:
    return (
        f"{row.mode:16s} {row.suite:10s} c={row.concurrency}  {row.attempts_per_s:7.1f} attempts/s "
        f"{row.cases_per_s:7.1f} cases/s  median {1000 * row.median_attempt_s:6.1f} ms"
    )


def main() -> None:
    """Run the benchmark, print the ratios, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=40)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/sandbox.json"))
    args = parser.parse_args()
    report = run(args.attempts)
    print("\nratios against the bare subprocess (same run):")
    for key, value in sorted(report["summary"].items()):
        print(f"  {key:50s} {value:8.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
