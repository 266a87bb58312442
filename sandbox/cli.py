"""The sandbox command line, stable for scripts (see docs/sandbox.md)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError

from sandbox.asserts import host_judged_share
from sandbox.backends import BackendName, SandboxError, make_backend
from sandbox.extract import Extraction
from sandbox.image import DEFAULT_IMAGE, ImageBuildError, build_image, image_exists
from sandbox.importers import ImportFormatError, load_problems
from sandbox.problem import Problem, describe_validation_error
from sandbox.runner import Sandbox, Split

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


@app.callback()
def _group() -> None:
    """Judge programs in the sandbox, or build its image."""


@app.command("build-image")
def build_image_command(
    tag: Annotated[str, typer.Option(help="image tag to build")] = DEFAULT_IMAGE,
    if_missing: Annotated[bool, typer.Option(help="do nothing when the image exists")] = False,
) -> None:
    """Build the sandbox image from Debian packages (no registry needed)."""
    if if_missing and image_exists(tag):
        typer.echo(f"sandbox image {tag} present")
        return
    try:
        build_image(tag)
    except ImageBuildError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"built sandbox image {tag}")


@app.command("run")
def run_command(
    problem: Annotated[Path, typer.Option(help="problem JSON (see docs/sandbox.md)")],
    program: Annotated[list[Path], typer.Option(help="program file; repeat to judge several")],
    backend: Annotated[str, typer.Option(help="auto, docker or process")] = "auto",
    split: Annotated[str, typer.Option(help="public, hidden or all")] = "all",
    extraction: Annotated[
        Extraction,
        typer.Option(
            help="solution: the runnable block without its top-level test code; runnable: "
            "the longest block that compiles and defines what the tests call; longest: the "
            "longest block"
        ),
    ] = Extraction.SOLUTION,
) -> None:
    """Judge programs in order through one backend; print one SuiteResult JSON per program."""
    parsed = _load_problem(problem)
    sources = [_read_text(path, "--program") for path in program]
    if backend not in ("auto", "docker", "process") or split not in ("public", "hidden", "all"):
        _fail(f"bad --backend {backend!r} or --split {split!r}")
    try:
        sandbox = Sandbox(make_backend(_backend_name(backend)), extraction=extraction)
    except SandboxError as exc:
        _fail(str(exc))
    try:
        results = [
            sandbox.run_suite(src, parsed, _split(split)).model_dump(mode="json") for src in sources
        ]
    finally:
        sandbox.close()
    typer.echo(json.dumps(results[0] if len(results) == 1 else results, indent=2))


@app.command("assert-share")
def assert_share_command(
    files: Annotated[list[Path], typer.Argument(help="problem files (any known format)")],
) -> None:
    """Print the share of assert cases the host judges (the rest are judged in the sandbox)."""
    for path in files:
        try:
            problems = load_problems(path)
        except (ImportFormatError, OSError) as exc:
            _fail(f"{path}: {exc}")
        cases = [
            (case.code, problem.tests.entry_point)
            for problem in problems
            for case in [*problem.tests.public, *problem.tests.hidden]
            if problem.tests.kind.value == "assert" and hasattr(case, "code")
        ]
        host, total = host_judged_share(cases)
        share = host / total if total else 0.0
        typer.echo(f"{path}: {host} of {total} assert cases judged on the host ({share:.1%})")


def _backend_name(name: str) -> BackendName:
    return "docker" if name == "docker" else "process" if name == "process" else "auto"


def _split(name: str) -> Split:
    return "public" if name == "public" else "hidden" if name == "hidden" else "all"


def _load_problem(path: Path) -> Problem:
    text = _read_text(path, "--problem")
    try:
        return Problem.model_validate_json(text)
    except ValidationError as exc:
        _fail(f"--problem {path}: {describe_validation_error(exc)}")


def _read_text(path: Path, flag: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"{flag} {path}: cannot read: {exc}")


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def main() -> None:
    """Entry point of `python -m sandbox`."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app()
