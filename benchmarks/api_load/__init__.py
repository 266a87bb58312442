"""API load: submits, SSE fan-out and status reads against `retrospect api` (docs/http-api.md).

    python -m benchmarks.api_load [--databases sqlite,postgres] [--submits 200]
        [--streams 400] [--reads 2000] [--read-concurrency 32] [--out PATH]
        [--redis-url redis://127.0.0.1:6379/0]

With `--redis-url`, each database also runs in Redis mode (its bus on that Redis, under a
prefix of its own), beside the in-process bus; with every stream open the report gives each
server's RSS and, in Redis mode, the Redis connections its bus holds (`CLIENT LIST`), which
stay at most 5 however many streams are open (docs/limits.md). The issue's figure is
`--streams 1000 --redis-url ...`.

The figures of the last recorded run are in `benchmarks/api_load/results.json`.

Everything runs on loopback and is bounded in count and time: each phase sends a fixed number
of requests and gives up after `--phase-timeout-s`. It starts a minimal ASGI app under the
same uvicorn (the baseline) and, per database, a real `retrospect api` process (SQLite file in
a temporary directory; a fresh Postgres database on 127.0.0.1:5432, dropped afterwards), then
runs each phase on every server back to back, baseline first, so that the machine's load at
that moment weighs on both: p50/p99 latency, rate and errors per operation, each server's peak
RSS, and the service's p99 and rate as ratios to the baseline's.
"""
