"""The `retrospect` command line (typer); the service's commands join it as they land."""

from __future__ import annotations

from typing import Annotated

import typer

from service.config import get_settings
from service.engine.model import ModelNotFoundError, resolve_model

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


@app.callback()
def _group() -> None:
    """retrospect: a test-time solver service."""


@app.command("prepare-model")
def prepare_model(
    model: Annotated[str | None, typer.Option(help="model setting; default from settings")] = None,
) -> None:
    """Resolve the model once (converting the shipped GGUF), and print where it lives."""
    settings = get_settings()
    try:
        path = resolve_model(model or settings.engine.model, settings.model_cache_dir)
    except ModelNotFoundError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(path)
