"""`retrospect submit PROBLEM.json --url URL --follow`: a job over HTTP, followed live.

Following reads the SSE stream and, when the connection drops, reconnects with
`Last-Event-ID`, so a flaky network skips no event and shows none twice.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from httpx_sse import connect_sse
from rich.console import Console

from service.cli.common import (
    PROMPT_HELP,
    STRATEGY_HELP,
    fail,
    load_problem,
    parse_budget,
    parse_strategy,
)
from service.progress import describe
from service.solver.events import EVENT_ADAPTER, TERMINAL_TYPES
from service.solver.prompts import DEFAULT_PROMPT_STYLE, PromptStyle
from service.solver.request import SamplingRequest
from service.solver.strategies import DEFAULT_STRATEGY

app = typer.Typer()
RECONNECT_DELAY_S = 1.0
MAX_RECONNECTS = 30


@app.command("submit")
def submit(
    problem: Annotated[Path, typer.Argument(help="problem JSON (see examples/)")],
    url: Annotated[str, typer.Option(help="the API's base URL")] = "http://127.0.0.1:8000",
    follow: Annotated[bool, typer.Option(help="stream events until the job ends")] = False,
    api_key: Annotated[
        str | None, typer.Option(envvar="RETROSPECT_API_KEY", help="bearer key")
    ] = None,
    strategy: Annotated[str, typer.Option(help=STRATEGY_HELP)] = DEFAULT_STRATEGY,
    max_attempts: Annotated[int, typer.Option(help="attempt budget")] = 32,
    attempts_per_round: Annotated[int, typer.Option(help="attempts sampled per round")] = 8,
    max_seconds: Annotated[float, typer.Option(help="wall-clock budget")] = 1800.0,
    max_new_tokens: Annotated[int | None, typer.Option(help="tokens per attempt")] = None,
    prompt: Annotated[PromptStyle, typer.Option(help=PROMPT_HELP)] = DEFAULT_PROMPT_STYLE,
    seed: Annotated[int, typer.Option(help="seed of sampling and adapter init")] = 0,
    idempotency_key: Annotated[str | None, typer.Option(help="resubmit safely")] = None,
    wait: Annotated[float, typer.Option(help="seconds to wait for the API to be ready")] = 0.0,
) -> None:
    """Submit a problem; print the job id, or with --follow its events and solution."""
    body: dict[str, Any] = {
        "problem": load_problem(problem).model_dump(mode="json"),
        "strategy": parse_strategy(strategy),
        "budget": parse_budget(max_attempts, attempts_per_round, max_seconds).model_dump(),
        "seed": seed,
    }
    body["sampling"] = SamplingRequest(max_new_tokens=max_new_tokens, prompt=prompt).overrides()
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    with httpx.Client(base_url=url, headers=headers, timeout=30.0) as client:
        _wait_ready(client, wait)
        job_id = _post(client, body)
        if not follow:
            typer.echo(job_id)
            return
        console = Console()
        console.print(f"job [bold]{job_id}[/bold]")
        _follow(client, job_id, console)
        _finish(client, job_id, console)


def _wait_ready(client: httpx.Client, wait_s: float) -> None:
    """Poll `/readyz` until it answers 200 or `wait_s` passes (a server still starting)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    if wait_s > 0:
        fail(f"{client.base_url} was not ready within {wait_s:g} s", code=1)


def _post(client: httpx.Client, body: dict[str, Any]) -> str:
    try:
        response = client.post("/solve", json=body)
    except httpx.TransportError as exc:
        fail(f"cannot reach {client.base_url}: {exc}", code=1)
    _check(response)
    return str(response.json()["id"])


def _follow(client: httpx.Client, job_id: str, console: Console) -> None:
    last_seq, reconnects = 0, 0
    while True:
        try:
            last_seq, ended = _stream(client, job_id, last_seq, console)
        except httpx.TransportError as exc:
            ended = False
            reconnects += 1
            if reconnects > MAX_RECONNECTS:
                fail(f"lost the event stream: {exc}", code=1)
            time.sleep(RECONNECT_DELAY_S)
        if ended:
            return


def _stream(client: httpx.Client, job_id: str, after: int, console: Console) -> tuple[int, bool]:
    headers = {"Last-Event-ID": str(after)}
    timeout = httpx.Timeout(30.0, read=None)
    with connect_sse(
        client, "GET", f"/jobs/{job_id}/events", headers=headers, timeout=timeout
    ) as source:
        _check(source.response)
        for sse in source.iter_sse():
            if not sse.data:
                continue  # a keep-alive comment
            data = sse.json()
            after = int(data.pop("seq"))
            data.pop("job_id", None)
            data.pop("at", None)
            console.print(describe(EVENT_ADAPTER.validate_python(data)))
            if sse.event in TERMINAL_TYPES:
                return after, True
    return after, False


def _finish(client: httpx.Client, job_id: str, console: Console) -> None:
    response = client.get(f"/jobs/{job_id}")
    _check(response)
    job = response.json()
    console.print(f"{job['status']} after {job['attempts_used']} attempts")
    if job["status"] == "succeeded" and job.get("solution"):
        console.rule("solution")
        console.print(job["solution"], markup=False, highlight=False)
    elif job["status"] != "exhausted":
        raise typer.Exit(1)


def _check(response: httpx.Response) -> None:
    if response.is_success:
        return
    response.read()
    try:
        error = response.json()["error"]
        message = f"{error['message']} ({response.status_code} {error['code']})"
    except (ValueError, KeyError, TypeError):
        message = f"HTTP {response.status_code}: {response.text[:200]}"
    fail(message, code=2 if 400 <= response.status_code < 500 else 1)
