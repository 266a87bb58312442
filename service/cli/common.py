"""What the local and client commands share: reading a problem, budgets, failing clearly."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import typer
from pydantic import ValidationError

from sandbox.problem import Problem, describe_validation_error
from service.config import Settings
from service.solver.budget import Budget
from service.solver.strategies import STRATEGIES, StrategyName, strategy_names


def parse_strategy(name: str) -> StrategyName:
    """The strategy named on the command line, or a clear error."""
    for strategy in STRATEGIES:
        if strategy == name:
            return strategy
    fail(f"--strategy must be {strategy_names()}, not {name!r}")


STRATEGY_HELP = strategy_names()


def parse_budget(max_attempts: int, per_round: int, max_seconds: float) -> Budget:
    """The budget from the command line's options, or a clear error naming the option."""
    try:
        return Budget(
            max_attempts=max_attempts, attempts_per_round=per_round, max_seconds=max_seconds
        )
    except ValidationError as exc:
        fail(describe_validation_error(exc, "budget"))


def load_problem(path: Path) -> Problem:
    """A problem file, validated, or a clear error naming the bad field."""
    try:
        return Problem.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"{path}: cannot read: {exc}")
    except ValidationError as exc:
        fail(f"{path}: {describe_validation_error(exc, 'problem')}")


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `error: message` on stderr and exit (2: the caller's mistake)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


MODEL_HELP = (
    "the model: a shipped name (`retrospect models`), an HF folder, a .gguf file or a hub id "
    "org/name; default: RETROSPECT_ENGINE__MODEL"
)


def with_model(settings: Settings, model: str | None) -> Settings:
    """`settings` with the engine's model replaced by a command's `--model`, where given."""
    if model is None:
        return settings
    engine = settings.engine.model_copy(update={"model": model})
    return settings.model_copy(update={"engine": engine})


PROMPT_HELP = (
    "how attempts are asked for: reasoning (a thought process, then the code) or concise (the "
    "code alone; a coder model's answers then fit a small token budget)"
)
