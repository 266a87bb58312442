"""Local commands: prepare the model, and solve a problem in this process with a live view."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sandbox import Sandbox, SandboxError, make_backend
from service.cli.common import (
    MODEL_HELP,
    PROMPT_HELP,
    STRATEGY_HELP,
    fail,
    load_problem,
    parse_budget,
    parse_strategy,
    with_model,
)
from service.config import get_settings
from service.engine.catalog import SHIPPED_MODELS
from service.engine.errors import EngineConfigError
from service.engine.model import ModelNotFoundError, resolve_model
from service.engine.shipped import locate
from service.progress import ConsoleEventSink
from service.solver.loop import OutcomeStatus, SolverParts, SolveSpec, solve
from service.solver.prompts import DEFAULT_PROMPT_STYLE, PromptStyle
from service.solver.request import SamplingRequest, SolveRequest
from service.solver.strategies import DEFAULT_STRATEGY

app = typer.Typer()


@app.command("models")
def list_models() -> None:
    """The models that ship as packages, whether installed, and their folder once prepared."""
    settings = get_settings()
    for model in SHIPPED_MODELS.values():
        installed = all(locate(part) is not None for part in model.parts)
        default = " (default)" if model.name == settings.engine.model else ""
        state = "installed" if installed else f"not installed: {model.install_hint()}"
        typer.echo(f"{model.name}{default}: {model.description}; {state}")


@app.command("prepare-model")
def prepare_model(
    model: Annotated[str | None, typer.Option(help=MODEL_HELP)] = None,
) -> None:
    """Resolve the model once (assembling and converting a GGUF), and print its folder."""
    settings = get_settings()
    try:
        path = resolve_model(model or settings.engine.model, settings.model_cache_dir)
    except ModelNotFoundError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(path)


@app.command("solve")
def solve_command(
    problem: Annotated[Path, typer.Argument(help="problem JSON (see examples/)")],
    strategy: Annotated[str, typer.Option(help=STRATEGY_HELP)] = DEFAULT_STRATEGY,
    max_attempts: Annotated[int, typer.Option(help="attempt budget")] = 32,
    attempts_per_round: Annotated[int, typer.Option(help="attempts sampled per round")] = 8,
    max_seconds: Annotated[float, typer.Option(help="wall-clock budget")] = 1800.0,
    max_new_tokens: Annotated[int, typer.Option(help="tokens per attempt")] = 256,
    seed: Annotated[int, typer.Option(help="seed of sampling and adapter init")] = 0,
    model: Annotated[str | None, typer.Option(help=MODEL_HELP)] = None,
    prompt: Annotated[PromptStyle, typer.Option(help=PROMPT_HELP)] = DEFAULT_PROMPT_STYLE,
) -> None:
    """Solve a problem here, in this process, showing each event as it happens."""
    logging.basicConfig(level=logging.WARNING)
    console = Console()
    request = SolveRequest(
        problem=load_problem(problem),
        strategy=parse_strategy(strategy),
        budget=parse_budget(max_attempts, attempts_per_round, max_seconds),
        sampling=SamplingRequest(max_new_tokens=max_new_tokens, prompt=prompt),
        seed=seed,
    )
    spec = SolveSpec(f"local-{uuid.uuid4().hex[:8]}", request)
    from service.engine.factory import build_engine  # torch loads only for this command

    settings = with_model(get_settings(), model)
    try:
        engine = build_engine(settings)
    except EngineConfigError as exc:
        fail(exc.message)
    try:
        sandbox = Sandbox(make_backend(), extraction=settings.sandbox.extraction)
    except SandboxError as exc:
        fail(str(exc))
    parts = SolverParts(engine.sampler, sandbox, engine.host.tokenizer, engine.learner)
    try:
        outcome = solve(spec, parts, sink=ConsoleEventSink(console))
    finally:
        sandbox.close()
    console.print(
        f"{outcome.status.value} after {outcome.attempts_used} attempts ({outcome.seconds})"
    )
    if outcome.status is OutcomeStatus.SUCCEEDED and outcome.solution:
        console.rule("solution")
        console.print(outcome.solution, markup=False, highlight=False)
    elif outcome.status is not OutcomeStatus.EXHAUSTED:
        raise typer.Exit(1)
