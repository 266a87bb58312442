"""Loop overhead: where a job's wall time goes when it runs through the service.

    python -m benchmarks.loop_overhead [--max-attempts 24] [--attempts-per-round 8]
        [--max-new-tokens 192] [--out benchmarks/results/loop_overhead.json]

Starts `retrospect serve` on the embedded defaults (SQLite, in-process worker, the default
model, the Docker sandbox) as a real process, POSTs the example, follows its SSE stream and
reads the phase split the terminal event carries. Then it runs the same job (same seed, same
budget) in this process through `solve()` with no service around it: the baseline. Printed:
POST→first event and POST→job.started latency, the per-round split (sampling, sandbox,
learning, bookkeeping), the share of the job's wall time outside sampling and learning, and
the ratio of the service's job wall time to the baseline's.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tests.integration.service.processes import (
    EXAMPLE,
    MODELS_DIR,
    free_port,
    service_env,
    start,
    wait_ready,
)

PHASES = ("sampling", "sandbox", "learning", "bookkeeping")


def run_service(body: dict[str, Any], data_dir: Path) -> dict[str, Any]:
    """One job through a real `retrospect serve`: latencies, events and the phase split."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start(["serve", "--port", str(port)], service_env(data_dir), data_dir / "serve.log")
    try:
        wait_ready(base, server)
        with httpx.Client(base_url=base, timeout=30) as client:
            posted = time.perf_counter()
            job_id = client.post("/solve", json=body).json()["id"]
            answered = time.perf_counter()
            arrivals, events = _follow(client, job_id)
    finally:
        server.stop()
    return {
        "post_s": answered - posted,
        "post_to_first_event_s": arrivals[0] - posted,
        "post_to_started_s": arrivals[1] - posted,
        "events": events,
    }


def _follow(client: httpx.Client, job_id: str) -> tuple[list[float], list[dict[str, Any]]]:
    arrivals: list[float] = []
    events: list[dict[str, Any]] = []
    timeout = httpx.Timeout(30.0, read=None)
    with client.stream("GET", f"/jobs/{job_id}/events", timeout=timeout) as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                arrivals.append(time.perf_counter())
                events.append(json.loads(line[6:]))
                if events[-1]["type"] in ("job.succeeded", "job.exhausted", "job.failed"):
                    break
    return arrivals, events


def summarize(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The job's wall time (job.started → terminal, by the worker's clock) and its split."""
    started = next(e for e in events if e["type"] == "job.started")
    ending = events[-1]
    wall = _at(ending) - _at(started)
    phases = {name: float(ending["seconds"][name]) for name in PHASES}
    rounds = sum(1 for e in events if e["type"] == "round.started")
    outside = wall - phases["sampling"] - phases["learning"]
    return {
        "outcome": ending["type"],
        "attempts": ending["attempts_used"],
        "rounds": rounds,
        "job_wall_s": wall,
        "phases_s": phases,
        "per_round_s": {name: value / max(rounds, 1) for name, value in phases.items()},
        "outside_solver_s": wall - sum(phases.values()),
        "share_outside_sampling_and_learning": outside / wall if wall > 0 else 0.0,
    }


def _at(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["at"].replace("Z", "+00:00")).timestamp()


def run_baseline(body: dict[str, Any]) -> dict[str, Any]:
    """The same job through `solve()` in this process: no database, bus or HTTP."""
    from sandbox import Sandbox, make_backend
    from service.config import Settings
    from service.engine.factory import build_engine
    from service.solver.loop import SolverParts, SolveSpec, solve
    from service.solver.request import SolveRequest
    from service.solver.sink import MemorySink

    settings = Settings(models_dir=MODELS_DIR)
    engine = build_engine(settings)
    sandbox = Sandbox(make_backend())
    spec = SolveSpec("baseline", SolveRequest.model_validate(body))  # the API's body as it is
    parts = SolverParts(engine.sampler, sandbox, engine.host.tokenizer, engine.learner)
    try:
        began = time.perf_counter()
        outcome = solve(spec, parts, sink=MemorySink())
        wall = time.perf_counter() - began
    finally:
        sandbox.close()
    split = outcome.seconds
    return {
        "outcome": outcome.status.value,
        "attempts": outcome.attempts_used,
        "rounds": outcome.rounds,
        "job_wall_s": wall,
        "phases_s": {name: getattr(split, name) for name in PHASES},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-attempts", type=int, default=24)
    parser.add_argument("--attempts-per-round", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=192)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/loop_overhead.json"))
    args = parser.parse_args()
    body = {
        "problem": json.loads(EXAMPLE.read_text()),
        "budget": {
            "max_attempts": args.max_attempts,
            "attempts_per_round": args.attempts_per_round,
        },
        "sampling": {"max_new_tokens": args.max_new_tokens},
        "seed": args.seed,
    }
    with tempfile.TemporaryDirectory() as data_dir:
        service = run_service(body, Path(data_dir))
    job = summarize(service.pop("events"))
    baseline = run_baseline(body)
    report = {"config": vars(args) | {"out": str(args.out)}, "service": service | job}
    report["baseline"] = baseline
    report["ratio_job_wall_service_to_baseline"] = job["job_wall_s"] / baseline["job_wall_s"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    _print(report)


def _print(report: dict[str, Any]) -> None:
    service, baseline = report["service"], report["baseline"]
    print(
        f"POST answered in {service['post_s'] * 1000:.1f} ms; first event after "
        f"{service['post_to_first_event_s'] * 1000:.1f} ms; job.started after "
        f"{service['post_to_started_s'] * 1000:.1f} ms"
    )
    print(
        f"service: {service['outcome']} after {service['attempts']} attempts, "
        f"{service['rounds']} rounds, job wall {service['job_wall_s']:.1f} s"
    )
    per_round = ", ".join(f"{k} {v:.2f} s" for k, v in service["per_round_s"].items())
    print(f"per round: {per_round}")
    print(
        f"outside the solver (claim, spec, resume, thread hand-off): "
        f"{service['outside_solver_s']:.2f} s"
    )
    print(
        f"share of job wall time outside sampling and learning: "
        f"{service['share_outside_sampling_and_learning']:.1%}"
    )
    print(
        f"baseline (solve() in-process): {baseline['outcome']} after {baseline['attempts']} "
        f"attempts, wall {baseline['job_wall_s']:.1f} s"
    )
    print(f"ratio job wall service / baseline: {report['ratio_job_wall_service_to_baseline']:.3f}")


if __name__ == "__main__":
    main()
