"""discovery@k benchmark (issue 5): SDPO against best-of-k and multi-turn on hard problems.

Will hold `python -m benchmarks.discovery`, which runs the strategies in-process over a problem
set with the same attempt budget and seeds and records each run's discovery index. So far it
holds `stats`: the pure statistics (discovery@k, per-problem averaging, bootstrap confidence
intervals, the unbiased pass@k estimator, attempts-to-reach ratios, mean attempts to discovery).
"""
