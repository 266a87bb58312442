"""The discovery@k statistics against brute-force references and their defining properties."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.discovery.stats import (
    attempt_ratio,
    attempts_to_reach,
    best_of_k_curve,
    bootstrap_ci,
    discovery_at_k,
    discovery_at_k_by_problem,
    discovery_within_seconds,
    mean_attempts_to_discovery,
    pass_at_k,
)

EXAMPLES = settings(max_examples=40, deadline=None)
FEW = settings(max_examples=15, deadline=None)  # the bootstrap draws arrays: fewer, smaller

index_st = st.one_of(st.none(), st.integers(min_value=0, max_value=40))
indices_st = st.lists(index_st, min_size=1, max_size=12)
ks_st = st.lists(st.integers(min_value=1, max_value=45), min_size=1, max_size=6)
runs_st = st.dictionaries(
    st.text(alphabet="abcdefgh", min_size=1, max_size=3), indices_st, min_size=1, max_size=6
)


@st.composite
def n_c_k(draw: st.DrawFn, max_n: int = 10) -> tuple[int, int, int]:
    n = draw(st.integers(min_value=1, max_value=max_n))
    c = draw(st.integers(min_value=0, max_value=n))
    k = draw(st.integers(min_value=1, max_value=n))
    return n, c, k


# pass@k


def _pass_at_k_brute_force(n: int, c: int, k: int) -> float:
    """The fraction of k-subsets of n samples (the first c pass) that hold a pass."""
    subsets = list(itertools.combinations(range(n), k))
    return sum(1 for subset in subsets if any(i < c for i in subset)) / len(subsets)


@EXAMPLES
@given(n_c_k())
def test_pass_at_k_matches_the_enumeration_of_k_subsets(nck: tuple[int, int, int]) -> None:
    n, c, k = nck
    assert pass_at_k(n, c, k) == pytest.approx(_pass_at_k_brute_force(n, c, k), abs=1e-12)


@EXAMPLES
@given(n_c_k(max_n=3000))
def test_pass_at_k_matches_the_exact_binomial_formula(nck: tuple[int, int, int]) -> None:
    n, c, k = nck
    exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
    assert pass_at_k(n, c, k) == pytest.approx(float(exact), abs=1e-9)


@EXAMPLES
@given(n_c_k(max_n=200))
def test_pass_at_k_is_one_when_every_k_subset_holds_a_pass(nck: tuple[int, int, int]) -> None:
    n, c, k = nck
    assert 0.0 <= pass_at_k(n, c, k) <= 1.0
    if n - c < k:
        assert pass_at_k(n, c, k) == 1.0
    if c == 0:
        assert pass_at_k(n, c, k) == 0.0


@EXAMPLES
@given(n_c_k(max_n=300))
def test_pass_at_k_is_monotone_in_k_and_in_c(nck: tuple[int, int, int]) -> None:
    n, c, k = nck
    if k < n:
        assert pass_at_k(n, c, k + 1) >= pass_at_k(n, c, k)
    if c < n:
        assert pass_at_k(n, c + 1, k) >= pass_at_k(n, c, k)


def test_pass_at_k_known_values() -> None:
    assert pass_at_k(10, 1, 1) == pytest.approx(0.1)
    assert pass_at_k(10, 1, 5) == pytest.approx(0.5)
    assert pass_at_k(4, 2, 2) == pytest.approx(5 / 6)
    # the paper's best-of-k scale: 2944 samples, pass@2750 with a handful of passes
    assert pass_at_k(2944, 3, 2750) == pytest.approx(
        1 - math.comb(2941, 2750) / math.comb(2944, 2750)
    )
    numpy_counts = (np.int64(10), np.int64(1), np.int64(5))  # what a numpy-based runner passes
    assert pass_at_k(*numpy_counts) == pytest.approx(0.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("n", "c", "k", "message"),
    [
        (10, 1, 0, "k must be >= 1"),
        (10, 1, -3, "k must be >= 1"),
        (4, 1, 5, "n must be >= k"),
        (10, -1, 2, r"c \(passing samples\) must be in \[0, n=10\]"),
        (10, 11, 2, r"c \(passing samples\) must be in \[0, n=10\]"),
    ],
)
def test_pass_at_k_rejects_bad_inputs(n: int, c: int, k: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pass_at_k(n, c, k)


def test_counts_must_be_integers() -> None:
    with pytest.raises(TypeError, match="k must be an integer"):
        pass_at_k(10, 1, 2.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got a bool"):
        pass_at_k(10, True, 2)
    with pytest.raises(TypeError, match="discovery index at position 1"):
        discovery_at_k([0, 1.5], [1])  # type: ignore[list-item]


def test_best_of_k_curve_averages_pass_at_k_over_problems() -> None:
    curve = best_of_k_curve({"a": (10, 1), "b": (4, 2), "c": (20, 0)}, [1, 2, 4])
    for k in (1, 2, 4):
        expected = (pass_at_k(10, 1, k) + pass_at_k(4, 2, k) + pass_at_k(20, 0, k)) / 3
        assert curve[k] == pytest.approx(expected)
    assert curve[1] == pytest.approx((0.1 + 0.5 + 0.0) / 3)


def test_best_of_k_curve_names_the_problem_with_too_few_samples() -> None:
    with pytest.raises(ValueError, match=r"problem 'b': n must be >= k"):
        best_of_k_curve({"a": (10, 1), "b": (4, 2)}, [1, 8])
    with pytest.raises(ValueError, match="samples must hold at least one problem"):
        best_of_k_curve({}, [1])


# discovery@k


@EXAMPLES
@given(indices_st, ks_st)
def test_discovery_at_k_matches_a_brute_force_count(
    indices: list[int | None], ks: list[int]
) -> None:
    curve = discovery_at_k(indices, ks)
    assert set(curve) == set(ks)
    for k in ks:
        found = [index for index in indices if index is not None and index + 1 <= k]
        assert curve[k] == len(found) / len(indices)
        assert 0.0 <= curve[k] <= 1.0


@EXAMPLES
@given(indices_st)
def test_discovery_at_k_is_monotone_in_k(indices: list[int | None]) -> None:
    ks = list(range(1, 45))
    curve = discovery_at_k(indices, ks)
    assert all(curve[k] <= curve[k + 1] for k in ks[:-1])
    found = sum(index is not None for index in indices) / len(indices)
    assert curve[44] == found  # past every index, each discovering run counts


@EXAMPLES
@given(runs_st, ks_st)
def test_discovery_by_problem_is_the_mean_of_per_problem_fractions(
    runs: dict[str, list[int | None]], ks: list[int]
) -> None:
    curve = discovery_at_k_by_problem(runs, ks)
    for k in ks:
        fractions = [
            Fraction(sum(i is not None and i < k for i in indices), len(indices))
            for indices in runs.values()
        ]
        assert curve[k] == pytest.approx(float(sum(fractions) / len(fractions)), abs=1e-12)
        assert 0.0 <= curve[k] <= 1.0


@EXAMPLES
@given(
    st.integers(min_value=1, max_value=5).flatmap(
        lambda seeds: st.lists(
            st.lists(index_st, min_size=seeds, max_size=seeds), min_size=1, max_size=6
        )
    ),
    ks_st,
)
def test_discovery_by_problem_equals_the_plain_one_with_equal_seed_counts(
    problems: list[list[int | None]], ks: list[int]
) -> None:
    runs = {f"p{i}": indices for i, indices in enumerate(problems)}
    flat = [index for indices in problems for index in indices]
    by_problem = discovery_at_k_by_problem(runs, ks)
    plain = discovery_at_k(flat, ks)
    for k in ks:
        assert by_problem[k] == pytest.approx(plain[k], abs=1e-12)


def test_discovery_by_problem_weighs_each_problem_the_same() -> None:
    runs: dict[str, list[int | None]] = {"many": [0] * 9, "one": [None]}
    assert discovery_at_k_by_problem(runs, [1]) == {1: 0.5}
    assert discovery_at_k([0] * 9 + [None], [1]) == {1: 0.9}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: discovery_at_k([0, 1], [0]), "k must be >= 1"),
        (lambda: discovery_at_k([0, 1], [4, -1]), "k must be >= 1"),
        (lambda: discovery_at_k([0, 1], []), "ks must not be empty"),
        (lambda: discovery_at_k([], [1]), "at least one run"),
        (lambda: discovery_at_k([0, -1], [1]), "discovery index at position 1 must be >= 0"),
        (lambda: discovery_at_k_by_problem({}, [1]), "at least one problem"),
        (lambda: discovery_at_k_by_problem({"x": []}, [1]), "problem 'x' has no runs"),
        (
            lambda: discovery_at_k_by_problem({"x": [None, -2]}, [1]),
            "discovery index of problem 'x' at position 1 must be >= 0",
        ),
        (lambda: bootstrap_ci({"x": [0]}, [0]), "k must be >= 1"),
        (lambda: bootstrap_ci({"x": [-1]}, [1]), "must be >= 0"),
        (lambda: bootstrap_ci({"x": [0]}, [1], level=1.0), r"level must be in \(0, 1\)"),
        (lambda: bootstrap_ci({"x": [0]}, [1], level=0.0), r"level must be in \(0, 1\)"),
        (lambda: bootstrap_ci({"x": [0]}, [1], resamples=0), "resamples must be >= 1"),
        (lambda: mean_attempts_to_discovery([3, -1]), "must be >= 0"),
    ],
)
def test_bad_inputs_raise_a_clear_value_error(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# bootstrap


def _random_runs(seed: int, problems: int = 20, seeds: int = 5) -> dict[str, list[int | None]]:
    """Problems of varied difficulty: each seed finds a pass at a geometric time, or never."""
    rng = np.random.default_rng(seed)
    runs: dict[str, list[int | None]] = {}
    for p in range(problems):
        rate = float(rng.uniform(0.005, 0.3))
        times = rng.geometric(rate, size=seeds) - 1
        runs[f"q{p}"] = [int(t) if t < 64 else None for t in times]
    return runs


KS = [1, 2, 4, 8, 16, 32, 64]


@pytest.mark.parametrize("data_seed", [0, 1, 2, 3])
def test_bootstrap_ci_contains_the_point_estimate_on_reasonable_data(data_seed: int) -> None:
    runs = _random_runs(data_seed)
    point = discovery_at_k_by_problem(runs, KS)
    ci = bootstrap_ci(runs, KS, resamples=1000, seed=7)
    for k in KS:
        lower, upper = ci[k]
        assert 0.0 <= lower <= point[k] <= upper <= 1.0
    assert ci[8][1] - ci[8][0] > 0.1  # 20 varied problems: a real interval, not a point


@FEW
@given(runs_st, ks_st, st.integers(min_value=0, max_value=2**32 - 1))
def test_bootstrap_ci_is_ordered_bounded_and_deterministic(
    runs: dict[str, list[int | None]], ks: list[int], seed: int
) -> None:
    ci = bootstrap_ci(runs, ks, resamples=200, seed=seed)
    assert ci == bootstrap_ci(runs, ks, resamples=200, seed=seed)
    assert set(ci) == set(ks)
    for lower, upper in ci.values():
        assert 0.0 <= lower <= upper <= 1.0
    ordered = sorted(set(ks))
    for small, large in itertools.pairwise(ordered):  # same resamples for every k
        assert ci[small][0] <= ci[large][0] + 1e-12
        assert ci[small][1] <= ci[large][1] + 1e-12


@FEW
@given(runs_st, st.integers(min_value=0, max_value=1000))
def test_bootstrap_intervals_nest_across_levels(
    runs: dict[str, list[int | None]], seed: int
) -> None:
    narrow = bootstrap_ci(runs, [8], level=0.5, resamples=200, seed=seed)[8]
    wide = bootstrap_ci(runs, [8], level=0.9, resamples=200, seed=seed)[8]
    assert wide[0] <= narrow[0] + 1e-12
    assert narrow[1] <= wide[1] + 1e-12


def test_bootstrap_depends_on_the_seed() -> None:
    runs = _random_runs(5)
    assert bootstrap_ci(runs, KS, resamples=300, seed=1) != bootstrap_ci(
        runs, KS, resamples=300, seed=2
    )


def test_bootstrap_is_the_same_across_block_boundaries() -> None:
    """Determinism does not hinge on the resample count being a multiple of the block."""
    runs = _random_runs(6)
    assert bootstrap_ci(runs, KS, resamples=777, seed=3) == bootstrap_ci(
        runs, KS, resamples=777, seed=3
    )


@FEW
@given(
    index_st,
    st.integers(min_value=1, max_value=6),
    st.integers(min_value=1, max_value=5),
    ks_st,
)
def test_bootstrap_collapses_to_a_point_when_all_runs_are_identical(
    index: int | None, problems: int, seeds: int, ks: list[int]
) -> None:
    runs = {f"p{i}": [index] * seeds for i in range(problems)}
    point = discovery_at_k_by_problem(runs, ks)
    ci = bootstrap_ci(runs, ks, resamples=100, seed=0)
    for k in ks:
        assert ci[k] == (point[k], point[k])


def test_bootstrap_resamples_seeds_within_a_problem() -> None:
    """One problem: only the within-problem draw of seeds can make the interval non-trivial."""
    runs = {"only": [0, None, 3, None, 1, None, None, 2]}
    lower, upper = bootstrap_ci(runs, [4], resamples=2000, seed=0)[4]
    assert lower < 0.5 < upper
    # the percentile interval of the mean of 8 Bernoulli(1/2) draws
    assert lower == pytest.approx(1 / 8, abs=0.13)
    assert upper == pytest.approx(7 / 8, abs=0.13)


def test_bootstrap_resamples_problems() -> None:
    """Each problem's seeds agree: only the draw of problems makes the interval non-trivial."""
    runs = {f"p{i}": [0, 0, 0] if i % 2 else [None, None, None] for i in range(10)}
    lower, upper = bootstrap_ci(runs, [1], resamples=2000, seed=0)[1]
    assert 0.1 < lower < 0.5 < upper < 0.9


def test_bootstrap_matches_a_loop_reference_in_distribution() -> None:
    """The vectorised two-level draw against a plain loop: the same interval up to noise."""
    runs = _random_runs(9, problems=12, seeds=4)
    runs["uneven"] = [None, 3]  # unequal seed counts
    rng = np.random.default_rng(123)
    names = list(runs)
    stats = []
    for _ in range(3000):
        chosen = [names[i] for i in rng.integers(0, len(names), size=len(names))]
        means = []
        for name in chosen:
            seeds = runs[name]
            drawn = [seeds[j] for j in rng.integers(0, len(seeds), size=len(seeds))]
            means.append(sum(i is not None and i < 16 for i in drawn) / len(drawn))
        stats.append(sum(means) / len(means))
    reference = np.quantile(stats, [0.05, 0.95])
    lower, upper = bootstrap_ci(runs, [16], level=0.9, resamples=3000, seed=0)[16]
    assert lower == pytest.approx(reference[0], abs=0.03)
    assert upper == pytest.approx(reference[1], abs=0.03)


# attempts to reach, ratio, mean attempts


def test_attempts_to_reach_on_hand_made_curves() -> None:
    curve = {1: 0.0, 2: 0.1, 4: 0.25, 8: 0.25, 16: 0.6}
    assert attempts_to_reach(curve, 0.0) == 1
    assert attempts_to_reach(curve, 0.1) == 2
    assert attempts_to_reach(curve, 0.2) == 4
    assert attempts_to_reach(curve, 0.25) == 4
    assert attempts_to_reach(curve, 0.6) == 16
    assert attempts_to_reach(curve, 0.61) is None
    # keys in any order; float noise between curves computed differently does not matter
    assert attempts_to_reach({16: 0.6, 4: 0.3}, 0.6000000000000001) == 16
    assert attempts_to_reach({16: 0.6, 4: 0.3}, 0.6000001) is None


def test_attempts_to_reach_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="curve must hold at least one k"):
        attempts_to_reach({}, 0.5)
    with pytest.raises(ValueError, match="k must be >= 1"):
        attempts_to_reach({0: 0.5}, 0.5)
    with pytest.raises(ValueError, match=r"target must be a probability in \[0, 1\]"):
        attempts_to_reach({1: 0.5}, 1.5)


def test_attempt_ratio_on_hand_made_curves() -> None:
    sdpo = {8: 0.1, 16: 0.22, 32: 0.4, 64: 0.5}
    best_of_k = {8: 0.05, 16: 0.1, 32: 0.15, 48: 0.22, 64: 0.3}
    multi_turn = {8: 0.3, 16: 0.4, 32: 0.41, 64: 0.45}
    assert attempt_ratio(best_of_k, sdpo, 16) == 3.0  # the paper's "3x fewer attempts"
    assert attempt_ratio(best_of_k, sdpo, 8) == 2.0
    assert attempt_ratio(multi_turn, sdpo, 32) == 0.5  # the baseline got there sooner
    assert attempt_ratio(best_of_k, sdpo, 32) is None  # never reaches 0.4 within 64
    assert attempt_ratio(multi_turn, sdpo, 64) is None
    assert attempt_ratio(best_of_k, {1: 0.0, 8: 0.1}, 1) is None  # nothing to reach
    # SDPO flat from 8 to 32: measured from where it got there (8), not from 32.
    assert attempt_ratio(best_of_k, {8: 0.1, 32: 0.1}, 32) == 16 / 8


def test_attempt_ratio_rejects_a_k_outside_the_sdpo_curve() -> None:
    with pytest.raises(ValueError, match="at_k=4 is not a k of the SDPO curve"):
        attempt_ratio({4: 0.5}, {8: 0.5}, 4)
    with pytest.raises(ValueError, match="at_k must be >= 1"):
        attempt_ratio({4: 0.5}, {8: 0.5}, 0)


@EXAMPLES
@given(indices_st, st.integers(min_value=1, max_value=40))
def test_attempt_ratio_of_a_curve_against_itself_is_one(
    indices: list[int | None], at_k: int
) -> None:
    curve = discovery_at_k(indices, list(range(1, 41)))
    ratio = attempt_ratio(curve, curve, at_k)
    if curve[at_k] == 0.0:
        assert ratio is None
    else:
        assert ratio == 1.0  # a flat stretch before at_k counts for neither side


def test_mean_attempts_to_discovery() -> None:
    assert mean_attempts_to_discovery([0, 3, None, 7]) == pytest.approx((1 + 4 + 8) / 3)
    assert mean_attempts_to_discovery([None, None]) is None
    assert mean_attempts_to_discovery([]) is None
    assert mean_attempts_to_discovery([4]) == 5.0
    # censored at the budget, as the paper's "mean gens to first success (capped)"
    assert mean_attempts_to_discovery([0, 3, None, 7], censored_at=10) == pytest.approx(23 / 4)
    assert mean_attempts_to_discovery([None, None], censored_at=10) == 10.0
    with pytest.raises(ValueError, match="censored_at=5 is below"):
        mean_attempts_to_discovery([0, 7], censored_at=5)


@EXAMPLES
@given(indices_st)
def test_mean_attempts_matches_the_discovery_curve(indices: list[int | None]) -> None:
    """Mean attempts over discovering runs = sum over k of P(T > k | discovered) (tail sum)."""
    mean = mean_attempts_to_discovery(indices)
    found = [i for i in indices if i is not None]
    if not found:
        assert mean is None
        return
    curve = discovery_at_k(found, list(range(1, 42)))
    assert mean == pytest.approx(1 + sum(1 - curve[k] for k in range(1, 42)))


times_st = st.dictionaries(
    st.text(alphabet="abcdefgh", min_size=1, max_size=3),
    st.lists(st.one_of(st.none(), st.floats(0, 100)), min_size=1, max_size=6),
    min_size=1,
    max_size=5,
)


@given(times_st, st.lists(st.floats(0, 120), min_size=1, max_size=5))
def test_discovery_within_seconds_matches_a_brute_force_count(
    runs: dict[str, list[float | None]], budgets: list[float]
) -> None:
    curve = discovery_within_seconds(runs, budgets)
    for t in budgets:
        fractions = []
        for times in runs.values():
            found = 0
            for s in times:
                if s is not None and s <= t:
                    found += 1
            fractions.append(found / len(times))
        assert curve[t] == pytest.approx(sum(fractions) / len(fractions))
    ordered = sorted(budgets)
    assert all(curve[a] <= curve[b] + 1e-12 for a, b in itertools.pairwise(ordered))


def test_discovery_within_seconds_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="at least one run"):
        discovery_within_seconds({"a": []}, [1.0])
    with pytest.raises(ValueError, match=">= 0"):
        discovery_within_seconds({"a": [1.0]}, [-1.0])
    assert discovery_within_seconds({"a": [None, 2.0], "b": [5.0]}, [2.0]) == {2.0: 0.25}
