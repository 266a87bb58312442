"""Judge one program against a problem's tests through a backend (see docs/sandbox.md)."""

from __future__ import annotations

import logging
from typing import Literal

from sandbox.backends.base import Backend, HarnessRun, SandboxError
from sandbox.extract import Extraction, called_names, extract_solution
from sandbox.judge import JudgedCase, assemble, build_request, judged_case, parse_records
from sandbox.limits import Limits
from sandbox.problem import Problem
from sandbox.results import SuiteResult, Verdict
from sandbox.solution import Solution

logger = logging.getLogger(__name__)

Split = Literal["public", "hidden", "all"]


def select_cases(problem: Problem, split: Split) -> list[JudgedCase]:
    """The cases of a split, each with its index within its own split."""
    entry_point = problem.tests.entry_point
    public = [
        judged_case(i, False, c, entry_point) for i, c in enumerate(problem.tests.cases("public"))
    ]
    hidden = [
        judged_case(i, True, c, entry_point) for i, c in enumerate(problem.tests.cases("hidden"))
    ]
    return {"public": public, "hidden": hidden, "all": public + hidden}[split]


class Sandbox:
    """Judges programs through one backend (one warm pool)."""

    def __init__(
        self,
        backend: Backend,
        base_limits: Limits | None = None,
        extraction: Extraction = Extraction.SOLUTION,
    ) -> None:
        self.backend = backend
        self.base_limits = base_limits or Limits()
        self.extraction = extraction

    def extract(self, program: str, problem: Problem) -> Solution | None:
        """What this sandbox judges of `program` (a response or plain code), or None."""
        return extract_solution(program, calls=called_names(problem.tests), rule=self.extraction)

    def run_suite(self, program: str, problem: Problem, split: Split = "public") -> SuiteResult:
        """Judge `program` (a model response or plain code) on one split of the tests."""
        cases = select_cases(problem, split)
        solution = self.extract(program, problem)
        if solution is None:
            return SuiteResult(
                verdict=Verdict.FORMAT_ERROR, passed=0, total=len(cases), detail="no code found"
            )
        if not cases:
            return SuiteResult(verdict=Verdict.ACCEPTED, passed=0, total=0)
        limits = Limits.for_problem(problem, self.base_limits)
        request = build_request(solution.code, problem.tests, cases, limits, self.backend.options())
        try:
            run = self.backend.execute(request, limits, len(cases))
        except SandboxError as exc:
            logger.error("sandbox failure: %s", exc)
            return assemble(cases, {}, problem.tests, limits, 0.0, detail=str(exc))
        records, closing = parse_records(run.stdout, limits)
        detail = "" if closing is not None else _early_end(run)
        return assemble(
            cases, records, problem.tests, limits, run.wall_s, detail, closing is not None
        )

    def close(self) -> None:
        """Release the backend's containers or processes."""
        self.backend.close()


def _early_end(run: HarnessRun) -> str:
    reason = "timed out" if run.timed_out else f"exit code {run.exit_code}"
    tail = run.stderr.decode("utf-8", errors="replace")[-300:]
    return f"the harness ended early ({reason}) {tail}".strip()
