"""Data sets the benchmarks and tests read, shipped in the repository with their licences."""

from __future__ import annotations

import json
from pathlib import Path

from sandbox.problem import Problem

# MBPP, the sanitized split (427 problems): CC BY 4.0, see mbpp/README.md.
MBPP_SANITIZED = Path(__file__).resolve().parent / "mbpp" / "mbpp-sanitized.json"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sum_evens.json"


def unpassable_example() -> Problem:
    """The example with a hidden test that contradicts a public one (same input, another
    answer): no program passes both, so a job spends its whole budget whatever it samples,
    and runs of it compare equal work; judging, feedback and learning still run for real."""
    body = json.loads(EXAMPLE.read_text())
    tests = body["tests"]
    tests["public"] = [*tests["public"], {"args": [[2]], "expected": 2}]
    tests["hidden"] = [*(tests.get("hidden") or []), {"args": [[2]], "expected": 3}]
    return Problem.model_validate(body)
