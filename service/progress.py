"""A live terminal view of a job's events (rich), for `retrospect solve`."""

from __future__ import annotations

from rich.console import Console

from service.engine.types import AdapterRef
from service.solver.attempts import AttemptRecord
from service.solver.events import (
    AdapterPublished,
    AttemptFinished,
    Event,
    JobFailed,
    JobSucceeded,
    LearnerStep,
    RoundStarted,
)


class ConsoleEventSink:
    """Prints each event as one line as it happens."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()

    def commit(
        self,
        event: Event,
        *,
        attempt: AttemptRecord | None = None,
        adapter: AdapterRef | None = None,
        elapsed_s: float,
    ) -> None:
        """Show one event (the line says what its attempt or adapter would)."""
        self.console.print(describe(event))


def describe(event: Event) -> str:
    """One line for an event, with the budget it leaves."""
    left = event.budget_left
    budget = f"[dim]({event.attempts_used} used, {left.attempts} left, {left.seconds:.0f}s)[/dim]"
    if isinstance(event, RoundStarted):
        return f"[bold]round {event.round}[/bold] {budget}"
    if isinstance(event, AttemptFinished):
        colour = "green" if event.verdict == "accepted" else "red"
        return (
            f"  attempt {event.index}: [{colour}]{event.verdict}[/{colour}] "
            f"{event.passed}/{event.total}{' (truncated)' if event.truncated else ''} {budget}"
        )
    if isinstance(event, LearnerStep):
        return (
            f"  learner step: loss {event.loss:.4f} kl {event.kl:.4f} "
            f"grad {event.grad_norm:.3f} in {event.seconds:.1f}s"
        )
    if isinstance(event, AdapterPublished):
        return f"  adapter v{event.version} published"
    if isinstance(event, JobSucceeded):
        return f"[bold green]solved[/bold green] by attempt {event.attempt} {budget}"
    if isinstance(event, JobFailed):
        return f"[bold red]failed[/bold red]: {event.reason}"
    return f"{event.type} {budget}"
