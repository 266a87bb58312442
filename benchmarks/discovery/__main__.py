"""`python -m benchmarks.discovery --config smoke|full`: does learning find solutions sooner?

Runs each strategy (sdpo, best_of_k, multi_turn) in-process on the same problems, seeds and
attempt budget, records each run's discovery index, and writes `discovery.json` and
`discovery.png` (discovery@k with 95% bootstrap CIs) into `--out-dir`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from benchmarks.discovery.config import CONFIGS, Config
from benchmarks.discovery.engine import solver_parts
from benchmarks.discovery.problems import MBPP_PATH, load_set
from benchmarks.discovery.report import build_report, plot
from benchmarks.discovery.runs import Run, Screening, append_journal, is_hard, run_one, screen
from sandbox.importers import ImportedProblem
from service.solver.loop import SolverParts
from service.solver.prompts import PromptStyle


def parse_args(argv: Sequence[str] | None = None) -> tuple[Config, argparse.Namespace]:
    """The config with the command line's overrides, and the command line itself."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="smoke")
    parser.add_argument("--set", dest="problem_set", choices=["examples", "mbpp"])
    parser.add_argument("--limit", type=int, help="first N problems of the set")
    parser.add_argument("--seeds", type=int, help="seeds 0..N-1")
    parser.add_argument("--strategies", help="comma-separated: sdpo,best_of_k,multi_turn")
    parser.add_argument("--max-attempts", type=int)
    parser.add_argument("--attempts-per-round", type=int)
    parser.add_argument("--max-new-tokens", type=int)
    parser.add_argument("--prompt", choices=[s.value for s in PromptStyle])
    parser.add_argument("--select-hard", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--screen-samples", type=int)
    parser.add_argument("--hard-threshold", type=float)
    parser.add_argument("--min-passes", type=int)
    parser.add_argument("--max-selected", type=int, help="run at most N of the hard problems")
    parser.add_argument(
        "--problems-from",
        type=Path,
        help="an earlier report: run on its selected problems, keep its screening, screen none",
    )
    parser.add_argument(
        "--random-weights-from",
        type=Path,
        help="a model folder with config and tokenizer only: random weights in its shape "
        "(a GPU host the checkpoint cannot reach; times hold, discoveries do not)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the out-dir's journal.jsonl and measure only what it lacks (same arguments)",
    )
    parser.add_argument(
        "--report-from",
        type=Path,
        help="a journal.jsonl of an earlier run: rebuild its report and plot, run nothing",
    )
    parser.add_argument("--mbpp", type=Path, default=MBPP_PATH)
    parser.add_argument("--out-dir", type=Path, default=Path("benchmarks/results/discovery"))
    args = parser.parse_args(argv)
    config = CONFIGS[args.config].with_overrides(
        problem_set=args.problem_set,
        limit=args.limit,
        seeds=tuple(range(args.seeds)) if args.seeds else None,
        strategies=tuple(args.strategies.split(",")) if args.strategies else None,
        max_attempts=args.max_attempts,
        attempts_per_round=args.attempts_per_round,
        max_new_tokens=args.max_new_tokens,
        prompt=None if args.prompt is None else PromptStyle(args.prompt),
        select_hard=args.select_hard,
        screen_samples=args.screen_samples,
        hard_threshold=args.hard_threshold,
        min_passes=args.min_passes,
        max_selected=args.max_selected,
    )
    if args.problems_from is not None:
        config = config.with_overrides(only=earlier_selection(args.problems_from)[0])
        config = config.with_overrides(select_hard=False)
    return config, args


def earlier_selection(report_path: Path) -> tuple[tuple[str, ...], list[Screening]]:
    """The problems an earlier report selected, and its screening (to carry into this one)."""
    report = json.loads(report_path.read_text())
    problems = report["problems"]
    return tuple(problems["selected"]), [
        Screening(s["problem"], s["n"], s["c"], s["reference_ok"]) for s in problems["screening"]
    ]


def benchmark(
    config: Config,
    parts: SolverParts,
    problems: Sequence[ImportedProblem],
    progress: Progress,
    journal: Path | None = None,
    done: Sequence[Run | Screening] = (),
) -> tuple[list[Run], list[Screening], list[str]]:
    """Screen (when selecting hard problems), then run every strategy × problem × seed.

    `journal`: a JSON-lines file each screening and run is appended to as it ends, so that an
    hours-long run that dies still leaves what it measured; `done`: what an earlier, cut run
    of the same config journaled, reused rather than measured again."""
    screened = {s.problem: s for s in done if isinstance(s, Screening)}
    ran = {(r.problem, r.strategy, r.seed): r for r in done if isinstance(r, Run)}
    screenings: list[Screening] = []
    chosen = list(problems)
    if config.select_hard:
        task = progress.add_task("screening", total=len(problems))
        for item in problems:
            if item.source_id in screened:
                screenings.append(screened[item.source_id])
            else:
                screenings.append(screen(item, parts, config))
                append_journal(journal, {"screening": screenings[-1].__dict__})
            progress.advance(task)
        hard = {
            s.problem for s in screenings if is_hard(s, config.hard_threshold, config.min_passes)
        }
        chosen = [item for item in problems if item.source_id in hard][: config.max_selected]
    total = len(chosen) * len(config.strategies) * len(config.seeds)
    task = progress.add_task("runs", total=total)
    runs: list[Run] = []
    for item in chosen:
        for seed in config.seeds:
            for strategy in config.strategies:
                earlier = ran.get((item.source_id, strategy, seed))
                runs.append(earlier or run_one(item, strategy, seed, config, parts))
                if earlier is None:
                    append_journal(journal, {"run": runs[-1].__dict__})
                progress.advance(task)
    return runs, screenings, [item.source_id for item in chosen]


def replay(journal: Path) -> tuple[list[Run], list[Screening], list[str]]:
    """The runs and screenings a journal holds; the selection is the problems that ran."""
    runs: list[Run] = []
    screenings: list[Screening] = []
    for line in journal.read_text().splitlines():
        record = json.loads(line) if line.strip() else {}
        if "screening" in record:
            screenings.append(Screening(**record["screening"]))
        elif "run" in record:
            runs.append(Run(**record["run"]))
    return runs, screenings, list(dict.fromkeys(run.problem for run in runs))


def main(argv: Sequence[str] | None = None) -> None:
    config, args = parse_args(argv)
    out_dir: Path = args.out_dir
    console = Console()
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.report_from is not None:
        _write(console, out_dir, build_report(config, *replay(args.report_from)))
        return
    problems = load_set(
        config.problem_set,
        limit=config.limit,
        only=config.only,
        mbpp_path=args.mbpp,
        shortest_first=config.shortest_first,
    )
    journal = out_dir / "journal.jsonl"
    done: list[Run | Screening] = []
    if args.resume and journal.exists():
        earlier_runs, earlier_screenings, _ = replay(journal)
        done = [*earlier_screenings, *earlier_runs]
        console.print(f"resuming: {len(earlier_screenings)} screenings, {len(earlier_runs)} runs")
    else:
        journal.unlink(missing_ok=True)
    with (
        solver_parts(random_weights_from=args.random_weights_from) as parts,
        Progress(console=console) as progress,
    ):
        runs, screenings, selected = benchmark(config, parts, problems, progress, journal, done)
    if args.problems_from is not None:
        screenings = earlier_selection(args.problems_from)[1]
    report = build_report(config, runs, screenings, selected)
    report["config"]["random_weights"] = args.random_weights_from is not None
    _write(console, out_dir, report)


def _write(console: Console, out_dir: Path, report: dict[str, Any]) -> None:
    (out_dir / "discovery.json").write_text(json.dumps(report, indent=2))
    plot(report, out_dir / "discovery.png")
    _print(console, report)


def _print(console: Console, report: dict[str, object]) -> None:
    strategies = report["strategies"]
    assert isinstance(strategies, dict)
    for name, summary in strategies.items():
        curve = summary.get("discovery_at_k", {})
        ci = summary.get("ci", {})
        cells = ", ".join(
            f"k={k}: {v:.2f} [{ci[k][0]:.2f}, {ci[k][1]:.2f}]" for k, v in curve.items()
        )
        cost = summary.get("wall_s_per_attempt")
        per_attempt = f"; {cost:.1f} s/attempt" if cost is not None else ""
        console.print(f"{name}: {cells}{per_attempt}")
    console.print(f"attempt ratios to reach sdpo's discovery@k: {report['ratios']}")


if __name__ == "__main__":
    main()
