"""The probe's figure: per-problem gains on the reference, with the overall intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SHOWN = {
    "reference_teacher_minus_student": "teacher - student",
    "reference_teacher_minus_control": "teacher - control",
}


def plot(report: dict[str, Any], path: Path) -> None:
    """Per-problem bars and the mean with its CI per comparison (matplotlib, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = report["summary"]
    problems = sorted(
        summary["per_problem"],
        key=lambda p: summary["per_problem"][p]["reference_teacher_minus_student"],
    )
    figure, (bars, overall) = plt.subplots(
        1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [3, 1]}
    )
    width = 0.4
    for offset, (name, label) in zip((-width / 2, width / 2), SHOWN.items(), strict=True):
        values = [summary["per_problem"][p][name] for p in problems]
        bars.bar([i + offset for i in range(len(problems))], values, width, label=label)
    bars.axhline(0, color="black", lw=0.8)
    bars.set_xticks(range(len(problems)), problems, rotation=90, fontsize=7)
    bars.set_ylabel("log-prob gain of the reference, nats/token")
    bars.set_title(f"per problem ({report['config']['name']})")
    bars.legend()
    names = list(summary["comparisons"])
    for i, name in enumerate(names):
        gain = summary["comparisons"][name]["gain"]
        overall.errorbar(
            [gain["mean"]],
            [i],
            xerr=[[gain["mean"] - gain["low"]], [gain["high"] - gain["mean"]]],
            fmt="o",
            capsize=4,
        )
    overall.axvline(0, color="black", lw=0.8)
    overall.set_yticks(range(len(names)), [n.replace("_", " ") for n in names], fontsize=7)
    overall.set_xlabel("mean over problems, 95% CI")
    overall.set_title("overall")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
