"""`python -m benchmarks.api_load`: see the package docstring."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import resource
import statistics
from collections.abc import Awaitable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from benchmarks.api_load import load
from benchmarks.api_load.servers import Server, baseline_app, retrospect_api

OPERATIONS = ("submit", "stream", "read")


def percentile(values: list[float], share: float) -> float:
    """The `share` quantile (0..1) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(outcome: load.Outcome, cpu_s: float) -> dict[str, Any]:
    """p50/p99 in ms, errors, the rate over the phase's wall time, and the server's CPU time
    per request (less sensitive than latency to what else this machine runs)."""
    done = len(outcome.latencies_s)
    return {
        "server_cpu_ms_per_request": round(cpu_s * 1000 / done, 2) if done else float("nan"),
        "ok": len(outcome.latencies_s),
        "errors": len(outcome.errors),
        "error_samples": sorted(set(outcome.errors))[:3],
        "p50_ms": round(percentile(outcome.latencies_s, 0.50) * 1000, 1),
        "p99_ms": round(percentile(outcome.latencies_s, 0.99) * 1000, 1),
        "mean_ms": round(statistics.fmean(outcome.latencies_s) * 1000, 1)
        if outcome.latencies_s
        else float("nan"),
        "per_s": round(len(outcome.latencies_s) / outcome.wall_s, 1) if outcome.wall_s else 0.0,
    }


async def measure(servers: dict[str, Server], args: argparse.Namespace) -> dict[str, Any]:
    """The three phases, each run on every server back to back (baseline first), so that a
    change in this machine's load between phases touches the baseline and the service alike;
    and each server's peak RSS."""
    timeout_s = args.phase_timeout_s
    rss = {name: [server.rss_mib()] for name, server in servers.items()}
    results: dict[str, dict[str, Any]] = {name: {} for name in servers}
    ids: dict[str, list[str]] = {}

    async def phase(name: str, op: str, work: Awaitable[load.Outcome]) -> load.Outcome:
        server = servers[name]
        cpu_before = server.cpu_s()
        outcome = await work
        results[name][op] = summary(outcome, server.cpu_s() - cpu_before)
        rss[name].append(server.rss_mib())
        return outcome

    for name, server in servers.items():
        made = await phase(name, "submit", load.submits(server.base_url, args.submits, timeout_s))
        ids[name] = made.ids or ["none"]
    for name, server in servers.items():
        peak: dict[str, Any] = {}

        def at_peak(server: Server = server, peak: dict[str, Any] = peak) -> None:
            peak["rss_mib"] = round(server.rss_mib(), 1)
            peak["redis_connections"] = server.redis_connections()

        work = load.streams(server.base_url, ids[name], args.streams, timeout_s, at_peak)
        await phase(name, "stream", work)
        results[name]["at_stream_peak"] = peak
    for name, server in servers.items():
        work = load.reads(server.base_url, ids[name], args.reads, args.read_concurrency, timeout_s)
        await phase(name, "read", work)
    for name in servers:
        results[name]["rss_start_mib"] = round(rss[name][0], 1)
        results[name]["rss_peak_mib"] = round(max(rss[name]), 1)
    return results


def started(stack: ExitStack, args: argparse.Namespace) -> dict[str, Server]:
    """The baseline and one `retrospect api` per database (and per database in Redis mode,
    with `--redis-url`), all up at once; each may hold every stream and some room besides."""
    servers = {"baseline": stack.enter_context(baseline_app())}
    room = args.streams + args.submits + args.read_concurrency + 64
    for kind in [d for d in args.databases.split(",") if d]:
        servers[kind] = stack.enter_context(retrospect_api(kind, max_connections=room))
        if args.redis_url:
            redis_mode = retrospect_api(kind, max_connections=room, redis_url=args.redis_url)
            servers[f"{kind}+redis"] = stack.enter_context(redis_mode)
    return servers


def open_files_for(streams: int) -> None:
    """Raise this process's open-files limit (the servers inherit it) to fit the streams:
    each stream is a descriptor on both sides of the loopback."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = streams * 2 + 512
    if soft != resource.RLIM_INFINITY and soft < wanted:
        top = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (top, hard))


def _ratio(value: float, base: float) -> float | None:
    """`value / base`, or None where the baseline measured nothing (too small to time)."""
    return round(value / base, 1) if base and math.isfinite(base) else None


def ratios(results: dict[str, Any]) -> None:
    """Each service figure over the baseline's, in place."""
    base = results["baseline"]
    for name, result in results.items():
        if name == "baseline":
            continue
        result["vs_baseline"] = {
            op: {
                "p99": _ratio(result[op]["p99_ms"], base[op]["p99_ms"]),
                "per_s": _ratio(result[op]["per_s"], base[op]["per_s"]),
                "cpu": _ratio(
                    result[op]["server_cpu_ms_per_request"],
                    base[op]["server_cpu_ms_per_request"],
                ),
            }
            for op in OPERATIONS
        }


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [
        f"{args.submits} concurrent submits, {args.streams} SSE clients, {args.reads} reads "
        f"({args.read_concurrency} in flight); loopback",
        f"{'server':<14} {'operation':<8} {'ok':>5} {'err':>4} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'per s':>8} {'p99 x base':>10} {'CPU ms/req':>10} {'CPU x base':>10} {'RSS MiB':>8}",
    ]
    for name, result in results.items():
        peak = result["at_stream_peak"]
        redis_connections = peak.get("redis_connections")
        if redis_connections is not None or name != "baseline":
            lines.append(
                f"{name}: with {args.streams} streams open, RSS {peak.get('rss_mib')} MiB, "
                f"Redis connections {redis_connections if redis_connections is not None else '-'}"
            )
    for name, result in results.items():
        for op in OPERATIONS:
            row = result[op]
            vs = result.get("vs_baseline", {}).get(op, {})
            lines.append(
                f"{name:<14} {op:<8} {row['ok']:>5} {row['errors']:>4} {row['p50_ms']:>8} "
                f"{row['p99_ms']:>8} {row['per_s']:>8} {vs.get('p99', '')!s:>10} "
                f"{row['server_cpu_ms_per_request']:>10} {vs.get('cpu', '')!s:>10} "
                f"{result['rss_peak_mib']:>8}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.api_load")
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--submits", type=int, default=200)
    parser.add_argument("--streams", type=int, default=400)
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--read-concurrency", type=int, default=32)
    parser.add_argument("--phase-timeout-s", type=float, default=120.0)
    parser.add_argument(
        "--redis-url", default=None, help="also run each database in Redis mode on this Redis"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/api_load/results.json"))
    args = parser.parse_args()
    open_files_for(args.streams)
    with ExitStack() as stack:
        servers = started(stack, args)
        results = asyncio.run(measure(servers, args))
    ratios(results)
    print(report(results, args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"settings": vars(args) | {"out": str(args.out)}, "results": results}, indent=2)
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
