"""Pure statistics for the discovery@k benchmark (no I/O).

Vocabulary (the paper's §5, docs/algorithm.md §6):
- A *run* is one (problem, seed) pair of one strategy, with an attempt budget.
- Its *discovery index* is the 0-based index of its first confirmed passing attempt, counted in
  total generations (an SDPO round of 8 attempts consumes 8), or None when no attempt passed
  within the run's budget. The discovery time of the paper is that index + 1.
- discovery@k = P(discovery time <= k) = P(index < k). For i.i.d. best-of-k sampling it equals
  pass@k, which `pass_at_k` estimates without bias from n samples of which c passed.

A None index only says "not within this run's budget": for k beyond the budget, discovery@k is
a lower bound. Callers compare strategies on ks within the common budget.

Every count argument (k, n, c, index) must be an integer (numpy integers are accepted, bools
are not): a wrong type raises TypeError, a value out of range raises ValueError naming it.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "attempt_ratio",
    "attempts_to_reach",
    "best_of_k_curve",
    "bootstrap_ci",
    "discovery_at_k",
    "discovery_at_k_by_problem",
    "mean_attempts_to_discovery",
    "pass_at_k",
]

# Bootstrap resamples drawn per block: bounds memory at _BLOCK x problems x max seeds. The
# draws depend on it, so it is a constant (results for a seed never depend on the data size).
_BLOCK = 256


def _integer(value: object, name: str) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got a bool ({value!r})")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None


def _check_ks(ks: Sequence[int]) -> list[int]:
    checked = [_integer(k, "k") for k in ks]
    if not checked:
        raise ValueError("ks must not be empty")
    for k in checked:
        if k < 1:
            raise ValueError(f"k must be >= 1 (k counts attempts), got {k}")
    return checked


def _check_indices(indices: Sequence[int | None], where: str = "") -> list[int | None]:
    checked: list[int | None] = []
    for position, index in enumerate(indices):
        if index is None:
            checked.append(None)
            continue
        value = _integer(index, f"discovery index{where} at position {position}")
        if value < 0:
            raise ValueError(
                f"discovery index{where} at position {position} must be >= 0 "
                f"(0-based index of the first passing attempt) or None, got {value}"
            )
        checked.append(value)
    return checked


def _check_runs(runs: Mapping[str, Sequence[int | None]]) -> dict[str, list[int | None]]:
    if not runs:
        raise ValueError("runs must hold at least one problem")
    checked: dict[str, list[int | None]] = {}
    for problem, indices in runs.items():
        if len(indices) == 0:
            raise ValueError(f"problem {problem!r} has no runs")
        checked[problem] = _check_indices(indices, f" of problem {problem!r}")
    return checked


def _fractions(indices: Sequence[int | None], ks: Sequence[int]) -> dict[int, float]:
    return {
        k: sum(1 for index in indices if index is not None and index < k) / len(indices) for k in ks
    }


def discovery_at_k(indices: Sequence[int | None], ks: Sequence[int]) -> dict[int, float]:
    """The fraction of runs whose discovery index is < k (found within k attempts), per k.

    Every run weighs the same, so a problem with more seeds weighs more; see
    `discovery_at_k_by_problem` for the per-problem average.
    """
    checked_ks = _check_ks(ks)
    checked = _check_indices(indices)
    if not checked:
        raise ValueError("indices must hold at least one run")
    return _fractions(checked, checked_ks)


def discovery_at_k_by_problem(
    runs: Mapping[str, Sequence[int | None]], ks: Sequence[int]
) -> dict[int, float]:
    """discovery@k averaged over problems: the mean over problems of each problem's fraction.

    `runs` maps a problem to its runs' discovery indices (one per seed). Each problem weighs
    the same whatever its number of seeds; with equal counts this equals `discovery_at_k`
    over all runs.
    """
    checked_ks = _check_ks(ks)
    checked = _check_runs(runs)
    per_problem = [_fractions(indices, checked_ks) for indices in checked.values()]
    return {k: math.fsum(curve[k] for curve in per_problem) / len(per_problem) for k in checked_ks}


def bootstrap_ci(
    runs: Mapping[str, Sequence[int | None]],
    ks: Sequence[int],
    *,
    level: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> dict[int, tuple[float, float]]:
    """Percentile bootstrap interval of `discovery_at_k_by_problem`, per k.

    Each resample draws as many problems as there are, with replacement, and within each drawn
    problem as many seeds as it has, with replacement (two-level: the interval reflects both
    the choice of problems and the seed-to-seed randomness of the algorithm). The same resamples
    serve every k, so for a fixed seed the bounds are non-decreasing in k and nest across
    levels. Deterministic for a given `seed` (numpy's default Generator).
    """
    checked_ks = _check_ks(ks)
    checked = _check_runs(runs)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    resamples = _integer(resamples, "resamples")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")

    problems = list(checked.values())
    counts = np.array([len(indices) for indices in problems], dtype=np.int64)
    width = int(counts.max())
    # discovery indices, +inf for "never" and for the padding (never drawn)
    table = np.full((len(problems), width), np.inf)
    for row, indices in enumerate(problems):
        table[row, : len(indices)] = [np.inf if i is None else float(i) for i in indices]

    rng = np.random.default_rng(seed)
    k_values = np.array(checked_ks, dtype=np.float64)
    statistics = np.empty((resamples, len(checked_ks)))
    for start in range(0, resamples, _BLOCK):
        size = min(_BLOCK, resamples - start)
        statistics[start : start + size] = _resample_block(rng, table, counts, k_values, size)

    tail = (1.0 - level) / 2.0
    bounds = np.quantile(statistics, [tail, 1.0 - tail], axis=0)
    return {
        k: (_clip01(bounds[0, column]), _clip01(bounds[1, column]))
        for column, k in enumerate(checked_ks)
    }


def _resample_block(
    rng: np.random.Generator,
    table: npt.NDArray[np.float64],
    counts: npt.NDArray[np.int64],
    k_values: npt.NDArray[np.float64],
    size: int,
) -> npt.NDArray[np.float64]:
    """`size` two-level resamples of the per-problem-averaged discovery@k: (size, len(ks))."""
    n_problems, width = table.shape
    drawn_problems = rng.integers(0, n_problems, size=(size, n_problems))
    drawn_counts = counts[drawn_problems]  # (size, problems)
    uniform = rng.random((size, n_problems, width))
    seeds = np.minimum(
        (uniform * drawn_counts[..., None]).astype(np.int64), drawn_counts[..., None] - 1
    )
    used = np.arange(width) < drawn_counts[..., None]  # the first n_p draws of each problem
    values = table[drawn_problems[..., None], seeds]  # (size, problems, width)
    found = (values[..., None] < k_values) & used[..., None]  # (size, problems, width, ks)
    per_problem = found.sum(axis=2) / drawn_counts[..., None]  # (size, problems, ks)
    result: npt.NDArray[np.float64] = per_problem.mean(axis=1)
    return result


def _clip01(value: float) -> float:
    return min(1.0, max(0.0, float(value)))


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k estimator of Chen et al. (2021): 1 - C(n-c, k) / C(n, k).

    n i.i.d. samples of which c passed; the probability that a k-subset of them, drawn without
    replacement, holds at least one pass. Computed in the stable product form
    1 - prod_{i=n-c+1}^{n} (1 - k/i), which never forms the (huge) binomials.
    Requires n >= k >= 1 and 0 <= c <= n.
    """
    n = _integer(n, "n")
    c = _integer(c, "c")
    k = _integer(k, "k")
    if k < 1:
        raise ValueError(f"k must be >= 1 (k counts attempts), got {k}")
    if n < k:
        raise ValueError(f"n must be >= k: pass@{k} needs at least {k} samples, got n={n}")
    if not 0 <= c <= n:
        raise ValueError(f"c (passing samples) must be in [0, n={n}], got {c}")
    if n - c < k:
        return 1.0  # every k-subset holds a pass
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def best_of_k_curve(samples: Mapping[str, tuple[int, int]], ks: Sequence[int]) -> dict[int, float]:
    """Best-of-k discovery@k: pass@k averaged over problems, each problem weighing the same.

    `samples` maps a problem to (n, c): n i.i.d. samples from the base model, c of which passed.
    Every k must be <= every problem's n.
    """
    checked_ks = _check_ks(ks)
    if not samples:
        raise ValueError("samples must hold at least one problem")
    curves: list[dict[int, float]] = []
    for problem, (n, c) in samples.items():
        try:
            curves.append({k: pass_at_k(n, c, k) for k in checked_ks})
        except ValueError as error:
            raise ValueError(f"problem {problem!r}: {error}") from None
    return {k: math.fsum(curve[k] for curve in curves) / len(curves) for k in checked_ks}


def attempts_to_reach(
    curve: Mapping[int, float], target: float, *, tolerance: float = 1e-9
) -> int | None:
    """The smallest k in `curve` whose value is >= target, or None if no k reaches it.

    The answer is only as fine as the curve's ks: on a sparse grid it is the first grid point
    at or past the true crossing. `tolerance` absorbs floating-point noise between curves
    computed in different orders (0.6 from 3/5 against 0.6000000000000001 from a mean).
    """
    if not curve:
        raise ValueError("curve must hold at least one k")
    for k in curve:
        if _integer(k, "k") < 1:
            raise ValueError(f"k must be >= 1 (k counts attempts), got {k}")
    if not 0.0 <= target <= 1.0:
        raise ValueError(f"target must be a probability in [0, 1], got {target}")
    reached = [k for k, value in curve.items() if value >= target - tolerance]
    return min(reached) if reached else None


def attempt_ratio(
    baseline_curve: Mapping[int, float],
    sdpo_curve: Mapping[int, float],
    at_k: int,
    *,
    tolerance: float = 1e-9,
) -> float | None:
    """Attempts the baseline needs to reach SDPO's discovery@at_k, over the attempts SDPO
    needed to reach it.

    This is what issue 5 calls "the ratio of attempts needed by best-of-k and by multi-turn to
    reach SDPO's discovery probability" (the paper's "≈3x fewer generations", its §5):
    with p = sdpo_curve[at_k], the ratio is attempts_to_reach(baseline_curve, p) over
    attempts_to_reach(sdpo_curve, p). The denominator is at_k where SDPO's curve rises at
    at_k, and less where it is flat before at_k: a flat stretch is not counted against SDPO
    (nor for it). Above 1, SDPO needed fewer attempts; below 1, the baseline got there sooner.

    None when the ratio is undefined: the baseline never reaches p within its curve (the ratio
    is then more than max(baseline ks) / at_k), or p is 0 (there is nothing to reach).
    Both curves should cover every k up to their budget; on a sparse grid the ratio is only
    as fine as the grid.
    """
    at_k = _integer(at_k, "at_k")
    if at_k < 1:
        raise ValueError(f"at_k must be >= 1 (k counts attempts), got {at_k}")
    if at_k not in sdpo_curve:
        raise ValueError(f"at_k={at_k} is not a k of the SDPO curve ({sorted(sdpo_curve)})")
    target = sdpo_curve[at_k]
    if target <= 0.0:
        return None
    needed = attempts_to_reach(baseline_curve, target, tolerance=tolerance)
    own = attempts_to_reach(sdpo_curve, target, tolerance=tolerance)
    return None if needed is None or own is None else needed / own


def mean_attempts_to_discovery(
    indices: Sequence[int | None], *, censored_at: int | None = None
) -> float | None:
    """Mean attempts to the first pass (index + 1) over the runs that discovered one.

    None when no run discovered (or there are no runs). With `censored_at` (the budget), runs
    that never discovered count as that many attempts and every run is averaged, as in the
    paper's "mean generations to first success (capped at 2750)"; it is then None only for no
    runs, and must be >= every discovered run's attempts.
    """
    checked = _check_indices(indices)
    attempts = [index + 1 for index in checked if index is not None]
    if censored_at is None:
        return math.fsum(attempts) / len(attempts) if attempts else None
    cap = _integer(censored_at, "censored_at")
    if cap < 1:
        raise ValueError(f"censored_at must be >= 1 (an attempt budget), got {cap}")
    if attempts and cap < max(attempts):
        raise ValueError(
            f"censored_at={cap} is below a run's attempts to discovery ({max(attempts)})"
        )
    if not checked:
        return None
    never = len(checked) - len(attempts)
    return math.fsum([*attempts, cap * never]) / len(checked)


def discovery_within_seconds(
    runs: Mapping[str, Sequence[float | None]], seconds: Sequence[float]
) -> dict[float, float]:
    """Discovery against wall time: per budget t, the mean over problems of the fraction of
    runs that found a pass within t seconds (`runs` maps a problem to each run's seconds to
    discovery, None for never). Learning costs time, so attempts alone flatter SDPO."""
    if not runs or any(not times for times in runs.values()):
        raise ValueError("every problem needs at least one run")
    budgets = [float(t) for t in seconds]
    if any(t < 0 or math.isnan(t) for t in budgets):
        raise ValueError("seconds must be >= 0")
    per_problem = [
        {t: sum(s is not None and s <= t for s in times) / len(times) for t in budgets}
        for times in runs.values()
    ]
    return {t: math.fsum(curve[t] for curve in per_problem) / len(per_problem) for t in budgets}
