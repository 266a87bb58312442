"""Problems with references from files and folders."""

from __future__ import annotations

from pathlib import Path

from service.probe.problems import load_probe_problems

EXAMPLES = Path(__file__).parents[4] / "examples"


def test_a_folder_gives_every_problem_that_has_a_reference() -> None:
    problems = load_probe_problems([EXAMPLES])
    assert len(problems) == len(list(EXAMPLES.glob("*.solution.py")))
    assert all(p.reference.strip() for p in problems)
    assert len({p.id for p in problems}) == len(problems)


def test_shortest_first_then_limit() -> None:
    problems = load_probe_problems([EXAMPLES], shortest_first=True, limit=3)
    lengths = [len(p.reference) for p in problems]
    assert lengths == sorted(lengths) and len(problems) == 3


def test_the_same_file_twice_keeps_ids_distinct(tmp_path: Path) -> None:
    problems = load_probe_problems([EXAMPLES / "sum_evens.json", EXAMPLES / "sum_evens.json"])
    assert len(problems) == 2 and problems[0].id != problems[1].id
