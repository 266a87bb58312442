"""`python -m benchmarks.steps` on the real model, learner and Docker sandbox at a tiny budget:
rows per problem in the journal, a resumed run that measures nothing twice, the summary and
the plot (the wiring, not a result)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks.steps.__main__ import main

pytestmark = [pytest.mark.model, pytest.mark.docker]


@pytest.mark.usefixtures("cpu_engine")
def test_a_tiny_run_journals_each_problem_and_resumes(tmp_path: Path) -> None:
    args = ["--mbpp-order", "shortest", "--limit", "3", "--attempts", "2", "--steps", "1,2"]
    args += ["--max-new-tokens", "24", "--out-dir", str(tmp_path)]
    main(args)
    journal = (tmp_path / "rows.jsonl").read_text().splitlines()
    report = json.loads((tmp_path / "steps.json").read_text())
    assert len(journal) == len(report["rows"]) == report["summary"]["problems"] >= 2
    for row in report["rows"]:
        assert row["before"] < 0 and row["control_from"] != row["problem"]
        assert set(row["after"]) == {"own", "control"}
        for scores in row["after"].values():
            assert set(scores) == {"1", "2"} and all(math.isfinite(v) for v in scores.values())
        # A step on the problem's own failures moves its student off the base model.
        assert row["after"]["own"]["1"] != row["before"]
    for by_arm in report["summary"]["by_steps"].values():
        effect = by_arm["own_minus_control"]
        assert effect["low"] <= effect["mean"] <= effect["high"]
    assert (tmp_path / "steps.png").read_bytes()[:4] == b"\x89PNG"
    main(args)  # resumed: every problem is in the journal, nothing is measured again
    assert (tmp_path / "rows.jsonl").read_text().splitlines() == journal
