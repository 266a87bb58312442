"""Means with percentile-bootstrap confidence intervals over problems (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Estimate:
    """A mean over `n` values with its bootstrap interval at `confidence`."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float

    def excludes_zero(self) -> bool:
        """Whether the interval lies wholly above or wholly below zero."""
        return self.low > 0 or self.high < 0


def bootstrap_mean(
    values: Sequence[float], *, confidence: float = 0.95, resamples: int = 4000, seed: int = 0
) -> Estimate:
    """The mean of `values` and the percentile-bootstrap interval of that mean."""
    if not values:
        raise ValueError("a mean needs at least one value")
    if not 0 < confidence < 1:
        raise ValueError("confidence is a fraction in (0, 1)")
    data = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(resamples, len(data)))].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    mean = float(data.mean())
    # Rounding in the resampled means must not put the interval beside a constant sample.
    return Estimate(mean, min(float(low), mean), max(float(high), mean), len(data), confidence)


def share_above_zero(values: Sequence[float]) -> float:
    """The share of values strictly above zero."""
    if not values:
        raise ValueError("a share needs at least one value")
    return sum(1 for v in values if v > 0) / len(values)
