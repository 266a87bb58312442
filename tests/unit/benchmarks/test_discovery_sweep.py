"""The SDPO settings sweep with the solver's fakes: configs per setting, the reused default
row, grouping by adapter shape, and how the best setting is chosen."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from benchmarks.discovery.config import Config
from benchmarks.discovery.runs import Run
from benchmarks.discovery.sweep import (
    GRID,
    beats,
    build_sweep_report,
    choose_best,
    first_round_discoveries,
    read_journal,
    reusable_runs,
    setting_config,
    sweep,
)
from service.solver.loop import SolverParts
from tests.unit.benchmarks.test_discovery_runner import item, parts, passing_at

BASE = Config(name="t", problem_set="examples", limit=1, max_attempts=8, attempts_per_round=4)
PHASES = {"sampling": 1.0, "sandbox": 0.1, "learning": 0.5, "bookkeeping": 0.0}


def run(problem: str, index: int | None, seed: int = 0, strategy: str = "sdpo") -> Run:
    used = 8 if index is None else index + 1
    return Run(problem, strategy, seed, index, used, 2, float(used), PHASES, "x")  # type: ignore[arg-type]


def test_a_setting_changes_only_what_it_names() -> None:
    config = setting_config(BASE, GRID["lr=1e-3"])
    assert config.strategies == ("sdpo",) and config.sdpo == {"learning_rate": 1e-3}
    assert config.attempts_per_round == 4
    assert setting_config(BASE, GRID["rounds_of_4"]).attempts_per_round == 4
    assert setting_config(BASE, GRID["default"]).sdpo == {}
    assert all(key in {"lora_rank", "lora_alpha"} for s in GRID.values() for key in s.engine)


def test_the_default_row_is_reused_only_from_a_matching_budget() -> None:
    report = {
        "config": {"max_attempts": 8, "attempts_per_round": 4, "max_new_tokens": 128, "sdpo": {}},
        "runs": [run("a", 1), run("a", 2, seed=1), run("a", 0, 0, "best_of_k")],
    }
    report["runs"] = [r.__dict__ for r in report["runs"]]
    assert reusable_runs(report, BASE) == [run("a", 1)]
    report["config"]["max_attempts"] = 16
    assert reusable_runs(report, BASE) == []
    report["config"] |= {"max_attempts": 8, "sdpo": {"learning_rate": 1.0}}
    assert reusable_runs(report, BASE) == []


def test_best_means_more_discoveries_then_fewer_attempts() -> None:
    rows = {
        "default": {"discovered": 2, "attempts_to_discovery_capped": 5.0},
        "x": {"discovered": 2, "attempts_to_discovery_capped": 4.0},
        "y": {"discovered": 1, "attempts_to_discovery_capped": 1.0},
    }
    assert choose_best(rows) == "x" and beats(rows["x"], rows["default"], margin_attempts=1.0)
    assert not beats(rows["x"], rows["default"], margin_attempts=2.0)  # within the noise
    assert not beats(rows["y"], rows["default"], 0.0)
    assert not beats(rows["default"], rows["default"], 0.0)


def test_the_sweep_loads_each_adapter_shape_once_and_reuses_the_default() -> None:
    shapes: list[dict[str, Any]] = []

    @contextmanager
    def parts_for(engine: Mapping[str, Any]) -> Iterator[SolverParts]:
        shapes.append(dict(engine))
        yield parts(passing_at(5))

    names = ["default", "lr=1e-3", "rank=4", "teacher=frozen"]
    with Progress(console=Console(file=io.StringIO())) as progress:
        runs = sweep(BASE, names, [item()], [run(item().source_id, 5)], progress, parts_for)
    assert shapes == [{}, {"lora_rank": 4, "lora_alpha": 8.0}]
    assert runs["default"] == [run(item().source_id, 5)]
    assert all(len(named) == 1 for named in runs.values())
    # The fake sampler counts attempts across the runs that share one shape's parts.
    assert runs["lr=1e-3"][0].discovery_index == runs["rank=4"][0].discovery_index == 5
    report = build_sweep_report(BASE, runs, [item().source_id])
    assert report["best"] == "default" and report["beats_default"] is False
    assert report["settings"]["rank=4"]["setting"]["engine"] == {"lora_rank": 4, "lora_alpha": 8.0}


def test_first_round_discoveries_are_carried_over_unless_the_round_size_changes() -> None:
    problem = item().source_id
    reused = [run(problem, 1)]  # found in round 1 (rounds of 2)

    @contextmanager
    def parts_for(engine: Mapping[str, Any]) -> Iterator[SolverParts]:
        yield parts(passing_at(6))

    names = ["default", "lr=1e-3", "rank=64", "rounds_of_4"]
    base = Config(name="t", problem_set="examples", limit=1, max_attempts=8, attempts_per_round=2)
    with Progress(console=Console(file=io.StringIO())) as progress:
        runs = sweep(base, names, [item()], reused, progress, parts_for)
    assert runs["lr=1e-3"] == runs["rank=64"] == reused
    assert runs["rounds_of_4"][0].discovery_index == 6  # round size changed: sampled again
    assert first_round_discoveries([run(problem, 4), run(problem, None)], 4) == {}


def test_a_sweep_resumes_from_its_journal(tmp_path: Path) -> None:
    journal = tmp_path / "sweep-journal.jsonl"
    calls: list[int] = []

    @contextmanager
    def parts_for(engine: Mapping[str, Any]) -> Iterator[SolverParts]:
        calls.append(1)
        yield parts(passing_at(5))

    with Progress(console=Console(file=io.StringIO())) as progress:
        first = sweep(BASE, ["lr=1e-3"], [item()], [], progress, parts_for, journal)
        again = sweep(BASE, ["lr=1e-3"], [item()], [], progress, parts_for, journal)
    assert first == again and len(journal.read_text().splitlines()) == 1
    assert read_journal(journal) == {("lr=1e-3", item().source_id, 0): first["lr=1e-3"][0]}
