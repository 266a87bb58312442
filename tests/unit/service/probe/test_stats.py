"""Bootstrap means: bounds, invariances, and an exact enumeration for tiny samples."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.probe.stats import bootstrap_mean, share_above_zero

values = st.lists(st.floats(-50, 50, allow_nan=False), min_size=1, max_size=30)


@given(values)
def test_the_interval_holds_the_mean_and_lies_within_the_sample(xs: list[float]) -> None:
    estimate = bootstrap_mean(xs, resamples=500)
    assert min(xs) - 1e-9 <= estimate.low <= estimate.mean <= estimate.high <= max(xs) + 1e-9
    assert estimate.n == len(xs)


@given(st.floats(-10, 10, allow_nan=False), st.integers(1, 20))
def test_a_constant_sample_has_a_point_interval(value: float, n: int) -> None:
    estimate = bootstrap_mean([value] * n, resamples=200)
    assert estimate.low == pytest.approx(value) and estimate.high == pytest.approx(value)
    assert not estimate.excludes_zero() or value != 0


@given(values, st.floats(-100, 100, allow_nan=False))
def test_shifting_the_sample_shifts_the_interval(xs: list[float], shift: float) -> None:
    base = bootstrap_mean(xs, resamples=300, seed=3)
    moved = bootstrap_mean([x + shift for x in xs], resamples=300, seed=3)
    assert moved.mean == pytest.approx(base.mean + shift, abs=1e-6)
    assert moved.low == pytest.approx(base.low + shift, abs=1e-6)
    assert moved.high == pytest.approx(base.high + shift, abs=1e-6)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(-5, 5), min_size=2, max_size=4))
def test_matches_the_exact_bootstrap_distribution_of_a_tiny_sample(xs: list[int]) -> None:
    """Every one of the n^n resamples, equally likely, is the brute-force reference: each end
    of the interval sits where the exact distribution crosses its 2.5% tail."""
    exact = np.array([np.mean(r) for r in itertools.product(xs, repeat=len(xs))])
    estimate = bootstrap_mean([float(x) for x in xs], resamples=40_000, seed=1)
    tail, slack = 0.025, 0.01
    assert np.mean(exact < estimate.low - 1e-9) <= tail + slack
    assert np.mean(exact <= estimate.low + 1e-9) >= tail - slack
    assert np.mean(exact > estimate.high + 1e-9) <= tail + slack
    assert np.mean(exact >= estimate.high - 1e-9) >= tail - slack


def test_the_same_seed_gives_the_same_interval() -> None:
    xs = [0.3, -0.1, 0.7, 0.2, -0.4]
    assert bootstrap_mean(xs, seed=5) == bootstrap_mean(xs, seed=5)


def test_empty_or_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        bootstrap_mean([])
    with pytest.raises(ValueError):
        bootstrap_mean([1.0], confidence=1.0)
    with pytest.raises(ValueError):
        share_above_zero([])


def test_share_above_zero_counts_strictly_positive_values() -> None:
    assert share_above_zero([1.0, 0.0, -1.0, 2.0]) == 0.5
