"""The discovery benchmark's runner with the solver's fakes: configs, runs, screening, the
report and its plot."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console
from rich.progress import Progress

from benchmarks.discovery.__main__ import benchmark, earlier_selection, parse_args, replay
from benchmarks.discovery.config import CONFIGS, Config
from benchmarks.discovery.problems import load_set
from benchmarks.discovery.report import build_report, plot
from benchmarks.discovery.runs import Run, Screening, is_hard, run_one, screen
from sandbox.importers import ImportedProblem, load_with_references
from service.solver.loop import SolverParts
from tests.unit.service.solver.fakes import (
    FakeJudge,
    FakeLearner,
    FakeSampler,
    FakeTokenizer,
    attempt_text,
)

EXAMPLE = Path(__file__).parents[3] / "examples" / "sum_evens.json"
CONFIG = Config(name="test", problem_set="examples", limit=1, max_attempts=8, attempts_per_round=2)


def item() -> ImportedProblem:
    return load_with_references(EXAMPLE)[0]


def parts(script: object = None) -> SolverParts:
    sampler = FakeSampler() if script is None else FakeSampler(script=script)  # type: ignore[arg-type]
    return SolverParts(sampler, FakeJudge(), FakeTokenizer(), FakeLearner())


def passing_at(ordinal: int) -> object:
    return lambda n: attempt_text(n, "PASS" if n == ordinal else "return 0")


def test_configs_are_consistent() -> None:
    assert CONFIG.k_grid == (1, 2, 4, 6, 8)
    assert Config(name="x", problem_set="examples", limit=None, ks=(3,)).k_grid == (3,)
    with pytest.raises(ValueError, match="multiple"):
        Config(name="x", problem_set="examples", limit=None, max_attempts=7, attempts_per_round=2)
    smoke = CONFIGS["smoke"]
    assert set(smoke.strategies) == {"sdpo", "best_of_k", "multi_turn"}
    config, args = parse_args(["--config", "full", "--limit", "4", "--seeds", "2"])
    assert (config.limit, config.seeds, config.select_hard) == (4, (0, 1), True)
    assert args.out_dir == Path("benchmarks/results/discovery")
    assert config.max_selected == CONFIGS["full"].max_selected
    wider, _ = parse_args(["--config", "full", "--max-selected", "16"])
    assert wider.max_selected == 16


def test_the_sets_load_with_references() -> None:
    examples = load_set("examples")
    assert len(examples) >= 6 and all(problem.reference for problem in examples)
    assert len(load_set("examples", limit=2)) == 2
    smoke = CONFIGS["smoke"]
    chosen = load_set(smoke.problem_set, only=smoke.only)
    assert sorted(item.source_id for item in chosen) == sorted(smoke.only)
    with pytest.raises(ValueError, match="unknown problem set"):
        load_set("leetcode")


@pytest.mark.parametrize("strategy", ["sdpo", "best_of_k", "multi_turn"])
def test_a_run_records_the_first_confirmed_pass(strategy: str) -> None:
    run = run_one(item(), strategy, 0, CONFIG, parts(passing_at(5)))  # type: ignore[arg-type]
    assert (run.discovery_index, run.attempts_used, run.status) == (5, 6, "succeeded")
    assert run.rounds == 3 and set(run.phases_s) == {
        "sampling",
        "sandbox",
        "learning",
        "bookkeeping",
    }
    never = run_one(item(), strategy, 0, CONFIG, parts())  # type: ignore[arg-type]
    assert (never.discovery_index, never.attempts_used, never.status) == (None, 8, "exhausted")


def test_screening_counts_passes_on_all_tests_and_checks_the_reference() -> None:
    config = Config(name="t", problem_set="examples", limit=1, screen_samples=8)
    flaky_half = lambda n: attempt_text(n, "FLAKY" if n % 2 else "return 0")  # noqa: E731
    screening = screen(item(), parts(flaky_half), config)
    assert (screening.n, screening.c, screening.reference_ok) == (8, 4, True)
    assert not is_hard(screening, 0.25) and is_hard(screening, 0.75)
    assert not is_hard(Screening("p", 8, 0, reference_ok=False), 0.25)


def test_the_benchmark_runs_every_strategy_problem_and_seed() -> None:
    config = Config(
        name="t",
        problem_set="examples",
        limit=1,
        seeds=(0, 1),
        max_attempts=4,
        attempts_per_round=2,
    )
    with Progress(console=Console(file=io.StringIO())) as progress:
        runs, screenings, selected = benchmark(config, parts(passing_at(3)), [item()], progress)
    assert len(runs) == 6 and screenings == [] and selected == [item().source_id]
    assert {(run.strategy, run.seed) for run in runs} == {
        (s, seed) for s in ("sdpo", "best_of_k", "multi_turn") for seed in (0, 1)
    }


def test_a_cut_run_resumes_from_its_journal_measuring_nothing_twice(tmp_path: Path) -> None:
    config = replace(CONFIG, seeds=(0, 1), max_attempts=4, select_hard=True, screen_samples=2)
    journal = tmp_path / "journal.jsonl"
    quiet = Console(file=io.StringIO())
    with Progress(console=quiet) as progress:
        first = benchmark(config, parts(passing_at(3)), [item()], progress, journal)
    lines = journal.read_text().splitlines()
    cut = lines[:3]  # the screening and two runs of six
    journal.write_text("\n".join(cut) + "\n")
    earlier_runs, earlier_screenings, _ = replay(journal)
    with Progress(console=quiet) as progress:
        again = benchmark(
            config, parts(passing_at(3)), [item()], progress, journal,
            [*earlier_screenings, *earlier_runs],
        )  # fmt: skip
    assert len(journal.read_text().splitlines()) == len(lines)  # only the missing four added
    key = [(r.problem, r.strategy, r.seed, r.discovery_index) for r in first[0]]
    assert [(r.problem, r.strategy, r.seed, r.discovery_index) for r in again[0]] == key
    assert again[1] == first[1] and again[2] == first[2]


def test_the_report_has_curves_cis_ratios_and_a_plot(tmp_path: Path) -> None:
    def run(strategy: str, problem: str, index: int | None) -> Run:
        phases = {"sampling": 1.0, "sandbox": 0.1, "learning": 0.5, "bookkeeping": 0.0}
        used = 8 if index is None else index + 1
        return Run(problem, strategy, 0, index, used, 2, 1.6 * used, phases, "x")  # type: ignore[arg-type]

    runs = [
        run("sdpo", "a", 1), run("sdpo", "b", 3),
        run("best_of_k", "a", 5), run("best_of_k", "b", None),
        run("multi_turn", "a", 1), run("multi_turn", "b", 7),
    ]  # fmt: skip
    screenings = [Screening("a", 8, 1, True), Screening("b", 8, 0, True)]
    report = build_report(CONFIG, runs, screenings, ["a", "b"])
    sdpo = report["strategies"]["sdpo"]
    assert sdpo["discovery_at_k"] == {"1": 0.0, "2": 0.5, "4": 1.0, "6": 1.0, "8": 1.0}
    assert sdpo["attempts_to_discovery"] == 3.0 and sdpo["wall_s_per_attempt"] == pytest.approx(1.6)
    assert set(report["strategies"]["best_of_k"]) >= {"discovery_at_k", "ci", "pass_at_k_iid"}
    assert report["ratios"]["best_of_k"]["4"] is None  # best-of-k never reaches 1.0 here
    assert report["ratios"]["multi_turn"]["2"] == 1.0
    json.dumps(report)  # serialisable as written
    plot(report, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_hard_needs_the_minimum_passes_and_screening_has_its_own_seed() -> None:
    assert is_hard(Screening("p", 8, 1, True), 0.3, min_passes=1)
    assert not is_hard(Screening("p", 8, 0, True), 0.3, min_passes=1)
    assert not is_hard(Screening("p", 8, 3, True), 0.3, min_passes=1)
    config = Config(name="t", problem_set="examples", limit=1, screen_samples=2, screen_seed=77)
    sampler = FakeSampler()
    screen(item(), SolverParts(sampler, FakeJudge(), FakeTokenizer(), FakeLearner()), config)
    assert sampler.calls[-1].params.seed == 77


def test_shortest_first_orders_by_the_reference_length() -> None:
    chosen = load_set("examples", shortest_first=True)
    lengths = [len(item.reference or "") for item in chosen]
    assert lengths == sorted(lengths)
    assert len(load_set("examples", shortest_first=True, limit=2)) == 2


def test_the_job_sdpo_settings_reach_the_learner() -> None:
    solver_parts = parts()
    config = replace(CONFIG, sdpo={"learning_rate": 1e-3})
    run_one(item(), "sdpo", 0, config, solver_parts)
    assert isinstance(solver_parts.learner, FakeLearner)
    assert solver_parts.learner.overrides[0] == {"learning_rate": 1e-3}


def test_selection_keeps_at_most_max_selected_and_journals_each_step(tmp_path: Path) -> None:
    config = Config(
        name="t",
        problem_set="examples",
        limit=None,
        strategies=("best_of_k",),
        max_attempts=2,
        attempts_per_round=2,
        select_hard=True,
        screen_samples=2,
        hard_threshold=1.01,
        max_selected=2,
    )
    problems = load_set("examples", limit=3)
    journal = tmp_path / "journal.jsonl"
    with Progress(console=Console(file=io.StringIO())) as progress:
        runs, screenings, selected = benchmark(config, parts(), problems, progress, journal)
    assert len(screenings) == 3 and selected == [p.source_id for p in problems[:2]]
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [next(iter(line)) for line in lines] == ["screening"] * 3 + ["run"] * 2
    assert lines[-1]["run"]["problem"] == selected[1] and len(runs) == 2
    assert replay(journal) == (runs, screenings, selected)  # a report can be rebuilt from it


def test_a_later_run_takes_an_earlier_reports_selection(tmp_path: Path) -> None:
    earlier = tmp_path / "discovery.json"
    screening = [{"problem": "mbpp/62", "n": 8, "c": 2, "reference_ok": True, "pass_rate": 0.25}]
    earlier.write_text(json.dumps({"problems": {"selected": ["mbpp/62"], "screening": screening}}))
    config, args = parse_args(["--config", "full", "--problems-from", str(earlier)])
    assert (config.only, config.select_hard, args.problems_from) == (("mbpp/62",), False, earlier)
    assert earlier_selection(earlier)[1] == [Screening("mbpp/62", 8, 2, True)]


def test_the_report_reads_time_and_capped_attempts() -> None:
    phases = {"sampling": 1.0, "sandbox": 0.1, "learning": 0.5, "bookkeeping": 0.0}
    runs = [
        Run("a", "sdpo", 0, 2, 3, 2, 30.0, phases, "succeeded"),
        Run("a", "best_of_k", 0, 6, 7, 4, 20.0, phases, "succeeded"),
        Run("b", "sdpo", 0, None, 8, 4, 80.0, phases, "exhausted"),
        Run("b", "best_of_k", 0, None, 8, 4, 25.0, phases, "exhausted"),
    ]
    config = replace(CONFIG, strategies=("sdpo", "best_of_k"))
    report = build_report(config, runs, [], ["a", "b"])
    sdpo, best = report["strategies"]["sdpo"], report["strategies"]["best_of_k"]
    assert sdpo["attempts_to_discovery_capped"] == (3 + 8) / 2
    # Every k, not the round grid: best-of-k reaches sdpo's 0.5 (sdpo: at k=3) at k=7.
    assert report["ratios"]["best_of_k"]["4"] == pytest.approx(7 / 3)
    assert sdpo["discovery_within_s"]["80"] == 0.5 and best["discovery_within_s"]["0"] == 0.0
    reached = [t for t, p in best["discovery_within_s"].items() if p == 0.5]
    assert min(float(t) for t in reached) >= 20.0
