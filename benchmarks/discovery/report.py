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
    mean_attempts_to_discovery,
)


def build_report(
    config: Config, runs: Sequence[Run], screenings: Sequence[Screening], selected: Sequence[str]
) -> dict[str, Any]:
    """`{"strategies": {name: {...}}, "problems": ..., "config": ..., "ratios": ...}`."""
    ks = list(config.k_grid)
    strategies: dict[str, Any] = {}
    for strategy in config.strategies:
        mine = [run for run in runs if run.strategy == strategy]
        if mine:
            strategies[strategy] = _strategy_summary(mine, ks)
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
        "ratios": _ratios(strategies, ks),
        "runs": [run.__dict__ for run in runs],
    }


def _strategy_summary(runs: Sequence[Run], ks: list[int]) -> dict[str, Any]:
    by_problem: dict[str, list[int | None]] = defaultdict(list)
    for run in runs:
        by_problem[run.problem].append(run.discovery_index)
    indices = [run.discovery_index for run in runs]
    attempts = sum(run.attempts_used for run in runs)
    return {
        "discovery_at_k": _keyed(discovery_at_k_by_problem(by_problem, ks)),
        "ci": {str(k): list(bounds) for k, bounds in bootstrap_ci(by_problem, ks).items()},
        "attempts_to_discovery": mean_attempts_to_discovery(indices),
        "discovered": sum(index is not None for index in indices),
        "runs": len(runs),
        "wall_s_per_attempt": sum(run.wall_s for run in runs) / max(attempts, 1),
        "wall_s": sum(run.wall_s for run in runs),
    }


def _ratios(strategies: dict[str, Any], ks: list[int]) -> dict[str, dict[str, float | None]]:
    """Attempts each baseline needs to reach SDPO's discovery@k, over k (None: never)."""
    if "sdpo" not in strategies:
        return {}
    sdpo = {int(k): v for k, v in strategies["sdpo"]["discovery_at_k"].items()}
    ratios: dict[str, dict[str, float | None]] = {}
    for name in ("best_of_k", "multi_turn"):
        curve = strategies.get(name, {}).get("discovery_at_k")
        if curve is not None:
            baseline = {int(k): v for k, v in curve.items()}
            ratios[name] = {str(k): attempt_ratio(baseline, sdpo, k) for k in ks}
    return ratios


def _keyed(curve: dict[int, float]) -> dict[str, float]:
    return {str(k): value for k, value in curve.items()}


def _config_json(config: Config) -> dict[str, Any]:
    return config.__dict__ | {"k_grid": list(config.k_grid)}


def plot(report: dict[str, Any], path: Path) -> None:
    """Discovery@k per strategy with its CI band (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 4.2))
    for name, summary in report["strategies"].items():
        if "discovery_at_k" not in summary:
            continue
        ks = [int(k) for k in summary["discovery_at_k"]]
        values = list(summary["discovery_at_k"].values())
        (line,) = axes.plot(ks, values, marker="o", label=name)
        low = [summary["ci"][str(k)][0] for k in ks]
        high = [summary["ci"][str(k)][1] for k in ks]
        axes.fill_between(ks, low, high, alpha=0.15, color=line.get_color())
    axes.set_xlabel("attempts k")
    axes.set_ylabel("discovery@k")
    axes.set_ylim(-0.02, 1.02)
    axes.set_title(f"discovery@k ({report['config']['name']}, 95% bootstrap CI)")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
