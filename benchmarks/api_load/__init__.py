"""API load: submits, SSE fan-out and status reads against `retrospect api` (docs/http-api.md).

    python -m benchmarks.api_load [--databases sqlite,postgres] [--submits 200]
        [--streams 400] [--reads 2000] [--read-concurrency 32] [--out PATH]

The figures of the last recorded run are in `benchmarks/api_load/results.json`.

Everything runs on loopback and is bounded in count and time: each phase sends a fixed number
of requests and gives up after `--phase-timeout-s`. For each database it starts a real
`retrospect api` process (SQLite file in a temporary directory; a fresh Postgres database on
127.0.0.1:5432, dropped afterwards), then measures p50/p99 latency and errors per operation,
and the server's peak RSS. The same operations against a minimal ASGI app under the same
uvicorn, in the same run, are the baseline; the ratio says what the service adds.
"""
