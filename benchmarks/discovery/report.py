"""From runs to the report: curves with bootstrap CIs per strategy, attempt ratios, cost per
attempt, the JSON the issue names, and a PNG of the curves."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.discovery.config import Config
from benchmarks.discovery.runs import Run, Screening
from benchmarks.discovery.stats import (
    attempt_ratio,
    best_of_k_curve,
    bootstrap_ci,
    discovery_at_k_by_problem,
    discovery_within_seconds,
    mean_attempts_to_discovery,
)


def build_report(
    config: Config, runs: Sequence[Run], screenings: Sequence[Screening], selected: Sequence[str]
) -> dict[str, Any]:
    """`{"strategies": {name: {...}}, "problems": ..., "config": ..., "ratios": ...}`."""
    ks = list(config.k_grid)
    seconds = seconds_grid(runs)
    strategies: dict[str, Any] = {}
    for strategy in config.strategies:
        mine = [run for run in runs if run.strategy == strategy]
        if mine:
            strategies[strategy] = summarize(mine, ks, config.max_attempts, seconds)
    iid = {s.problem: (s.n, s.c) for s in screenings if s.problem in selected and s.n >= max(ks)}
    if iid:
        strategies.setdefault("best_of_k", {})["pass_at_k_iid"] = _keyed(best_of_k_curve(iid, ks))
    return {
        "config": _config_json(config),
        "problems": {
            "selected": list(selected),
            "screening": [s.__dict__ | {"pass_rate": s.pass_rate} for s in screenings],
        },
        "strategies": strategies,
        "ratios": _ratios(runs, config.strategies, ks, config.max_attempts),
        "runs": [run.__dict__ for run in runs],
    }


def summarize(
    runs: Sequence[Run], ks: list[int], budget: int, seconds: Sequence[float]
) -> dict[str, Any]:
    """One strategy's (or setting's) runs: discovery@k with CIs, attempts and time to it."""
    by_problem = _indices_by_problem(runs)
    times: dict[str, list[float | None]] = defaultdict(list)
    for run in runs:
        times[run.problem].append(run.wall_s if run.discovery_index is not None else None)
    indices = [run.discovery_index for run in runs]
    attempts = sum(run.attempts_used for run in runs)
    return {
        "discovery_at_k": _keyed(discovery_at_k_by_problem(by_problem, ks)),
        "ci": {str(k): list(bounds) for k, bounds in bootstrap_ci(by_problem, ks).items()},
        "attempts_to_discovery": mean_attempts_to_discovery(indices),
        "attempts_to_discovery_capped": mean_attempts_to_discovery(indices, censored_at=budget),
        "discovered": sum(index is not None for index in indices),
        "runs": len(runs),
        "wall_s_per_attempt": sum(run.wall_s for run in runs) / max(attempts, 1),
        "wall_s": sum(run.wall_s for run in runs),
        "discovery_within_s": {
            f"{t:g}": p for t, p in discovery_within_seconds(times, seconds).items()
        },
    }


def _indices_by_problem(runs: Sequence[Run]) -> dict[str, list[int | None]]:
    by_problem: dict[str, list[int | None]] = defaultdict(list)
    for run in runs:
        by_problem[run.problem].append(run.discovery_index)
    return by_problem


def seconds_grid(runs: Sequence[Run], points: int = 12) -> list[float]:
    """Wall-time budgets from 0 to the longest run, shared by every strategy's curve."""
    longest = max((run.wall_s for run in runs), default=0.0)
    return [round(longest * i / (points - 1), 1) for i in range(points)]


def _ratios(
    runs: Sequence[Run], strategies: Sequence[str], ks: list[int], budget: int
) -> dict[str, dict[str, float | None]]:
    """Attempts each baseline needs to reach SDPO's discovery@k, over k (None: never).

    The curves are taken at every k up to the budget, not only at the reported grid, so the
    ratio is not rounded up to the next round boundary."""
    every_k = list(range(1, budget + 1))
    curves = {
        name: discovery_at_k_by_problem(_indices_by_problem(mine), every_k)
        for name in strategies
        if (mine := [run for run in runs if run.strategy == name])
    }
    if "sdpo" not in curves:
        return {}
    return {
        name: {str(k): attempt_ratio(curves[name], curves["sdpo"], k) for k in ks}
        for name in ("best_of_k", "multi_turn")
        if name in curves
    }


def _keyed(curve: dict[int, float]) -> dict[str, float]:
    return {str(k): value for k, value in curve.items()}


def _config_json(config: Config) -> dict[str, Any]:
    return config.__dict__ | {"k_grid": list(config.k_grid)}


def plot(report: dict[str, Any], path: Path) -> None:
    """Discovery@k per strategy with its CI band (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (by_k, by_time) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, summary in report["strategies"].items():
        if "discovery_at_k" not in summary:
            continue
        ks = [int(k) for k in summary["discovery_at_k"]]
        values = list(summary["discovery_at_k"].values())
        (line,) = by_k.plot(ks, values, marker="o", label=name)
        low = [summary["ci"][str(k)][0] for k in ks]
        high = [summary["ci"][str(k)][1] for k in ks]
        by_k.fill_between(ks, low, high, alpha=0.15, color=line.get_color())
        timed = summary["discovery_within_s"]
        by_time.plot([float(t) / 60 for t in timed], list(timed.values()), label=name)
    if "pass_at_k_iid" in report["strategies"].get("best_of_k", {}):
        iid = report["strategies"]["best_of_k"]["pass_at_k_iid"]
        by_k.plot(
            [int(k) for k in iid],
            list(iid.values()),
            ls=":",
            color="gray",
            label="pass@k (screening, i.i.d.)",
        )
    by_k.set_xlabel("attempts k")
    by_k.set_ylabel("discovery@k")
    by_k.set_title(f"discovery@k ({report['config']['name']}, 95% bootstrap CI)")
    by_time.set_xlabel("wall minutes per run")
    by_time.set_ylabel("discovered within that time")
    by_time.set_title("discovery against wall time")
    for axes in (by_k, by_time):
        axes.set_ylim(-0.02, 1.02)
        axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
