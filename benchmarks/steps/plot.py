"""The step benchmark's figure: the reference's gain per step count, own round vs control."""

from __future__ import annotations

from pathlib import Path
from typing import Any

LABELS = {
    "own_gain": "steps on its own round",
    "control_gain": "steps on another problem's round",
    "own_minus_control": "own - control",
}


def plot(report: dict[str, Any], path: Path) -> None:
    """Mean gain with its 95% CI against the number of steps, one line per arm (no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_steps = report["summary"]["by_steps"]
    steps = [int(k) for k in by_steps]
    figure, axis = plt.subplots(figsize=(6, 4))
    for offset, (name, label) in zip((-0.06, 0.0, 0.06), LABELS.items(), strict=True):
        means = [by_steps[str(k)][name]["mean"] for k in steps]
        low = [m - by_steps[str(k)][name]["low"] for k, m in zip(steps, means, strict=True)]
        high = [by_steps[str(k)][name]["high"] - m for k, m in zip(steps, means, strict=True)]
        xs = [k * (1 + offset) for k in steps]
        axis.errorbar(xs, means, yerr=[low, high], fmt="o-", capsize=4, label=label)
    axis.axhline(0, color="black", lw=0.8)
    axis.set_xscale("log", base=2)
    axis.set_xticks(steps, [str(k) for k in steps])
    axis.set_xlabel("SDPO steps")
    axis.set_ylabel("reference log-prob gain, nats/token")
    problems = report["summary"]["problems"]
    axis.set_title(f"{problems} problems, 95% CI over problems")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
