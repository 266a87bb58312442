"""`retrospect probe`: can the configured model learn from its own feedback?"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from sandbox import Sandbox, SandboxError, make_backend
from sandbox.importers import ImportFormatError
from service.cli.common import MODEL_HELP, PROMPT_HELP, fail, with_model
from service.config import get_settings
from service.probe.attempts import Failure, ProbeProblem
from service.probe.problems import load_probe_problems
from service.solver.prompts import DEFAULT_PROMPT_STYLE, PromptStyle

if TYPE_CHECKING:  # torch and peft load only when the probe runs
    from service.probe.run import ProbeConfig, ProbeResult

app = typer.Typer()


@app.command("probe")
def probe_command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="problem files or folders with reference solutions [examples/]"),
    ] = None,
    attempts: Annotated[int, typer.Option(min=1, max=64, help="attempts per problem")] = 4,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="tokens per attempt")] = 192,
    limit: Annotated[int | None, typer.Option(min=2, help="first N problems")] = None,
    shortest_first: Annotated[bool, typer.Option(help="order by reference length")] = False,
    seed: Annotated[int, typer.Option(help="seed of sampling and of the bootstrap")] = 0,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the result here")] = None,
    model: Annotated[str | None, typer.Option(help=MODEL_HELP)] = None,
    prompt: Annotated[PromptStyle, typer.Option(help=PROMPT_HELP)] = DEFAULT_PROMPT_STYLE,
) -> None:
    """Score reference solutions under the student prompt, the teacher prompt with a failing
    attempt's feedback, and with another problem's feedback; print whether the self-teacher
    knows better, and the strategy that follows."""
    logging.basicConfig(level=logging.WARNING)
    from service.probe.run import ProbeConfig

    console = Console()
    problems = _problems(paths or [Path("examples")], limit, shortest_first)
    config = ProbeConfig(
        attempts_per_problem=attempts,
        max_new_tokens=max_new_tokens,
        seed=seed,
        prompt_style=prompt,
    )
    result = _run(problems, config, console, model)
    _print(console, result)
    if json_out is not None:
        json_out.write_text(json.dumps(result.to_json(), indent=2))
        console.print(f"wrote {json_out}")


def _problems(paths: list[Path], limit: int | None, shortest_first: bool) -> list[ProbeProblem]:
    try:
        problems = load_probe_problems(paths, limit=limit, shortest_first=shortest_first)
    except (OSError, ImportFormatError) as exc:
        fail(str(exc))
    if len(problems) < 2:
        fail(f"the probe needs at least 2 problems with reference solutions; found {len(problems)}")
    return problems


def _run(
    problems: list[ProbeProblem], config: ProbeConfig, console: Console, model: str | None
) -> ProbeResult:
    from service.engine.errors import EngineConfigError
    from service.engine.factory import build_engine  # torch loads only for this command
    from service.probe.run import ProbeParts, run_probe

    settings = with_model(get_settings(), model)
    try:
        engine = build_engine(settings)
    except EngineConfigError as exc:
        fail(exc.message)
    try:
        backend = make_backend(
            settings.sandbox.backend,
            concurrency=settings.sandbox.concurrency,
            image=settings.sandbox.image,
        )
    except SandboxError as exc:
        fail(str(exc))
    sandbox = Sandbox(backend, extraction=settings.sandbox.extraction)
    parts = ProbeParts(engine.sampler, sandbox, engine.host, engine.host.tokenizer)

    def shown(problem: ProbeProblem, failures: list[Failure]) -> None:
        console.print(f"{problem.id}: {len(failures)} of {config.attempts_per_problem} failed")

    try:
        return run_probe(problems, parts, config, on_problem=shown)
    except ValueError as exc:  # too few failing attempts to compare
        fail(str(exc))
    finally:
        sandbox.close()


def _print(console: Console, result: ProbeResult) -> None:
    summary = result.summary
    table = Table(title=f"{summary.attempts} failing attempts on {summary.problems} problems")
    for column in ("nats per token", "mean", "95% interval", "share > 0"):
        table.add_column(column)
    for name, comparison in summary.comparisons.items():
        gain = comparison.gain
        table.add_row(
            name.replace("_", " "),
            f"{gain.mean:+.3f}",
            f"[{gain.low:+.3f}, {gain.high:+.3f}]",
            f"{comparison.share_positive:.0%}",
        )
    console.print(table)
    console.print(summary.verdict)
