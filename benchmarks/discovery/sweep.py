"""`python -m benchmarks.discovery.sweep`: which SDPO settings find solutions soonest on this
model? Runs `sdpo` alone with one setting changed at a time from the defaults, on the problems
an earlier `benchmarks.discovery` report selected, and writes `sweep.json`.

A setting changes the job's SDPO hyperparameters (`sdpo`: learning rate, teacher, top-K), the
worker's adapter shape (`engine`: LoRA rank and alpha, which rebuilds the engine) or the budget's
round size. The best setting is the one with the most discoveries, then the fewest attempts to
them (budget-capped mean); it beats the defaults only if it discovers strictly more, or as many
with at least half a round fewer attempts. With a handful of problems even that is a weak
signal, said as such.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from benchmarks.discovery.config import CONFIGS, Config
from benchmarks.discovery.engine import solver_parts
from benchmarks.discovery.problems import MBPP_PATH, load_set
from benchmarks.discovery.report import seconds_grid, summarize
from benchmarks.discovery.runs import Run, append_journal, run_one
from sandbox.importers import ImportedProblem
from service.solver.loop import SolverParts


@dataclass(frozen=True)
class Setting:
    """One point of the sweep: what differs from the defaults."""

    sdpo: Mapping[str, Any] = field(default_factory=dict)
    engine: Mapping[str, Any] = field(default_factory=dict)
    attempts_per_round: int | None = None


# One factor at a time around the defaults (lr 1e-4, rank 16, EMA teacher, top-K 20, rounds
# of 8): the settings issue 5 names as the ones that matter for a LoRA variant.
GRID: dict[str, Setting] = {
    "default": Setting(),
    "lr=1e-3": Setting(sdpo={"learning_rate": 1e-3}),
    "lr=1e-5": Setting(sdpo={"learning_rate": 1e-5}),
    "rank=4": Setting(engine={"lora_rank": 4, "lora_alpha": 8.0}),
    "rank=64": Setting(engine={"lora_rank": 64, "lora_alpha": 128.0}),
    "teacher=frozen": Setting(sdpo={"teacher": "frozen"}),
    "top_k=100": Setting(sdpo={"top_k": 100}),
    "rounds_of_4": Setting(attempts_per_round=4),
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems-from", type=Path, required=True, help="a discovery report")
    parser.add_argument("--config", choices=sorted(CONFIGS), default="full")
    parser.add_argument("--settings", help=f"comma-separated, of: {', '.join(GRID)}")
    parser.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1")
    parser.add_argument("--max-attempts", type=int)
    parser.add_argument("--attempts-per-round", type=int)
    parser.add_argument("--max-new-tokens", type=int)
    parser.add_argument(
        "--reuse-default",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="take the default row from the report's sdpo runs when their budget matches",
    )
    parser.add_argument("--mbpp", type=Path, default=MBPP_PATH)
    parser.add_argument("--out-dir", type=Path, default=Path("benchmarks/results/discovery"))
    return parser.parse_args(argv)


def setting_config(base: Config, setting: Setting) -> Config:
    """The benchmark config one setting runs under: `sdpo` only, its overrides applied."""
    return base.with_overrides(
        strategies=("sdpo",),
        sdpo=dict(setting.sdpo),
        attempts_per_round=setting.attempts_per_round,
    )


def reusable_runs(report: Mapping[str, Any], config: Config) -> list[Run]:
    """The report's default-setting sdpo runs, when they ran on this config's budget."""
    earlier = report["config"]
    same = all(
        earlier.get(key) == getattr(config, key)
        for key in ("max_attempts", "attempts_per_round", "max_new_tokens")
    )
    if not same or earlier.get("sdpo"):
        return []
    return [
        Run(**run)
        for run in report["runs"]
        if run["strategy"] == "sdpo" and run["seed"] in config.seeds
    ]


def choose_best(summaries: Mapping[str, Mapping[str, Any]]) -> str:
    """Most discoveries, then the fewest budget-capped attempts; ties keep the grid's order."""
    return max(
        summaries,
        key=lambda name: (
            summaries[name]["discovered"],
            -summaries[name]["attempts_to_discovery_capped"],
        ),
    )


def beats(
    challenger: Mapping[str, Any], incumbent: Mapping[str, Any], margin_attempts: float
) -> bool:
    """Strictly more discoveries, or as many with at least `margin_attempts` fewer
    budget-capped attempts on average (less is within the noise of sampling order)."""
    found: tuple[int, int] = (challenger["discovered"], incumbent["discovered"])
    capped: tuple[float, float] = (
        challenger["attempts_to_discovery_capped"],
        incumbent["attempts_to_discovery_capped"],
    )
    fewer = capped[0] < capped[1] and capped[1] - capped[0] >= margin_attempts
    return found[0] > found[1] or (found[0] == found[1] and fewer)


def sweep(
    base: Config,
    names: Sequence[str],
    problems: Sequence[ImportedProblem],
    reused: Sequence[Run],
    progress: Progress,
    parts_for: Callable[[Mapping[str, Any]], AbstractContextManager[SolverParts]] = solver_parts,
    journal: Path | None = None,
) -> dict[str, list[Run]]:
    """Every setting × problem × seed, grouped by adapter shape so each model loads once
    (`parts_for` builds the parts for an adapter shape).

    `journal`: a JSON-lines file of `{"setting": name, "run": ...}`; the runs it already holds
    are taken from it instead of run again (a sweep that died resumes), and each new run is
    appended as it ends."""
    runs: dict[str, list[Run]] = {name: [] for name in names}
    if "default" in runs and reused:
        runs["default"] = list(reused)
    todo = [name for name in names if not runs[name]]
    task = progress.add_task("sweep", total=len(todo) * len(problems) * len(base.seeds))
    shapes: dict[str, list[str]] = {}
    for name in todo:
        shapes.setdefault(json.dumps(dict(GRID[name].engine), sort_keys=True), []).append(name)
    settled = first_round_discoveries(reused, base.attempts_per_round)
    journaled = read_journal(journal)
    for shape, members in shapes.items():
        with parts_for(json.loads(shape)) as parts:
            for name in members:
                config = setting_config(base, GRID[name])
                same_rounds = config.attempts_per_round == base.attempts_per_round
                for item in problems:
                    for seed in base.seeds:
                        key = (name, item.source_id, seed)
                        done = settled.get(key[1:]) if same_rounds else None
                        done = done or journaled.get(key)
                        if done is None:
                            done = run_one(item, "sdpo", seed, config, parts)
                            append_journal(journal, {"setting": name, "run": done.__dict__})
                        runs[name].append(done)
                        progress.advance(task)
    return runs


def read_journal(journal: Path | None) -> dict[tuple[str, str, int], Run]:
    """The runs an earlier sweep journaled, by (setting, problem, seed)."""
    if journal is None or not journal.exists():
        return {}
    runs: dict[tuple[str, str, int], Run] = {}
    for line in journal.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            run = Run(**record["run"])
            runs[(record["setting"], run.problem, run.seed)] = run
    return runs


def first_round_discoveries(runs: Sequence[Run], round_size: int) -> dict[tuple[str, int], Run]:
    """Default runs that found a pass in their first round, by (problem, seed).

    No SDPO setting can change such a run as long as the round size stays: round 1 is sampled
    before any learning, from a fresh adapter whose B = 0 makes it the base model whatever its
    rank, with the same seed. So the sweep carries these over instead of sampling them again.
    """
    return {
        (run.problem, run.seed): run
        for run in runs
        if run.discovery_index is not None and run.discovery_index < round_size
    }


def build_sweep_report(
    base: Config, runs: Mapping[str, Sequence[Run]], problems: Sequence[str]
) -> dict[str, Any]:
    """`{"settings": {name: {"setting": ..., **summary}}, "best": ..., "beats_default": ...}`."""
    ks = list(base.k_grid)
    every = [run for named in runs.values() for run in named]
    seconds = seconds_grid(every)
    summaries = {
        name: summarize(named, ks, base.max_attempts, seconds) for name, named in runs.items()
    }
    best = choose_best(summaries)
    return {
        "config": base.__dict__ | {"k_grid": ks},
        "problems": list(problems),
        "settings": {
            name: {"setting": GRID[name].__dict__ | {"sdpo": dict(GRID[name].sdpo)}}
            | summaries[name]
            for name in runs
        },
        "best": best,
        "beats_default": "default" in summaries
        and best != "default"
        # Half a round: which attempt of a round passes first is an accident of sample order.
        and beats(summaries[best], summaries["default"], base.attempts_per_round / 2),
        "runs": {name: [run.__dict__ for run in named] for name, named in runs.items()},
    }


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    names = args.settings.split(",") if args.settings else list(GRID)
    unknown = [name for name in names if name not in GRID]
    if unknown:
        raise SystemExit(f"unknown setting {unknown[0]!r}; known: {', '.join(GRID)}")
    report = json.loads(args.problems_from.read_text())
    selected = tuple(report["problems"]["selected"])
    base = CONFIGS[args.config].with_overrides(
        seeds=tuple(range(args.seeds)),
        max_attempts=args.max_attempts,
        attempts_per_round=args.attempts_per_round,
        max_new_tokens=args.max_new_tokens,
        only=selected,
    )
    reused = reusable_runs(report, base) if args.reuse_default else []
    problems = load_set(base.problem_set, only=selected, mbpp_path=args.mbpp)
    console = Console()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    journal = args.out_dir / "sweep-journal.jsonl"
    with Progress(console=console) as progress:
        runs = sweep(base, names, problems, reused, progress, journal=journal)
    result = build_sweep_report(base, runs, [item.source_id for item in problems])
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "sweep.json").write_text(json.dumps(result, indent=2))
    for name, row in result["settings"].items():
        console.print(
            f"{name}: discovered {row['discovered']}/{row['runs']}, "
            f"capped mean attempts {row['attempts_to_discovery_capped']:.1f}, "
            f"{row['wall_s_per_attempt']:.1f} s/attempt"
        )
    verdict = "beats" if result["beats_default"] else "does not beat"
    console.print(f"best: {result['best']} ({verdict} the defaults)")


if __name__ == "__main__":
    main()
