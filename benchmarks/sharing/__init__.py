"""`python -m benchmarks.sharing`: N jobs on one engine, one at a time (the baseline, measured
in the same run) against all together through the shared sampler, as a worker with
`max_jobs=N` runs them: attempts per second, rounds per minute, each job's time to its first
event and to its end, peak memory, and whether each job made the same attempts both ways."""
