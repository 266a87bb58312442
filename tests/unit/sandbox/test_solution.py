"""The solution rule: a program's top-level test code is left out, nothing it needs is."""

from __future__ import annotations

import ast
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.extract import Extraction, extract_solution
from sandbox.solution import Solution, solution_of

MODEL_ANSWER = """import sys
sys.setrecursionlimit(10**6)
MOD = 10**9 + 7

def f(x):
    return helper(x) % MOD

def helper(x):
    return x * 2

# Test the function
assert f(2) == 5, "wrong"
print(f(3))
result = f(4)
print(result)

if __name__ == "__main__":
    n = int(input())
    print(f(n))"""


def test_a_model_answer_keeps_its_set_up_and_definitions_and_drops_its_tests() -> None:
    solution = solution_of(MODEL_ANSWER, {"f"})
    assert solution.code == MODEL_ANSWER.split("\n\n# Test")[0]
    assert solution.dropped.splitlines() == [
        'assert f(2) == 5, "wrong"',
        "print(f(3))",
        "result = f(4)",
        "print(result)",
        'if __name__ == "__main__":',
        "    n = int(input())",
        "    print(f(n))",
    ]


def test_test_code_that_binds_what_the_solution_reads_stays() -> None:
    code = (
        "def f(x):\n    return TABLE[x]\nTABLE = build()\ndef build():\n    return [1]\nprint(f(0))"
    )
    solution = solution_of(code, {"f"})
    assert (
        solution.code
        == "def f(x):\n    return TABLE[x]\nTABLE = build()\ndef build():\n    return [1]"
    )
    assert solution.dropped == "print(f(0))"


def test_a_statement_sharing_a_line_with_a_kept_one_stays() -> None:
    code = "def f():\n    return 1\nx = 2; print(f())"
    assert solution_of(code, {"f"}) == Solution(code)


def test_demonstration_objects_go_and_their_class_stays() -> None:
    code = (
        "class Solution:\n    def solve(self, n):\n        return n\n"
        "s = Solution()\nprint(s.solve(3))\nSolution().solve(4)"
    )
    solution = solution_of(code, {"Solution.solve"})
    assert solution.code == "class Solution:\n    def solve(self, n):\n        return n"
    assert solution.dropped == "s = Solution()\nprint(s.solve(3))\nSolution().solve(4)"


def test_loops_and_blocks_of_test_code_go() -> None:
    code = (
        "def f(x):\n    return x\n"
        "for case in [(1, 1), (2, 2)]:\n    assert f(case[0]) == case[1]\n"
        "try:\n    f(1)\nexcept Exception:\n    pass\n"
        "import unittest\nunittest.main()"
    )
    solution = solution_of(code, {"f"})
    assert solution.code == "def f(x):\n    return x\nimport unittest"


def test_set_up_through_imported_modules_and_builtins_stays() -> None:
    code = (
        "import sys\nfrom functools import lru_cache\nsys.setrecursionlimit(10000)\n"
        "memo = dict()\n@lru_cache(None)\ndef f(n):\n    return n if n < 2 else f(n - 1) + f(n - 2)"
    )
    assert solution_of(code, {"f"}) == Solution(code)


def test_an_early_exit_is_the_programs_own_and_stays() -> None:
    for exit_call in ("exit(0)", "import os\nos._exit(0)", "import sys\nsys.exit(0)"):
        code = f"def f(x):\n    return 0\n{exit_call}"
        assert solution_of(f"{code}\nprint(f(1))", {"f"}) == Solution(code, "print(f(1))")


def test_stdio_programs_and_programs_that_do_not_parse_come_back_whole() -> None:
    stdio = "n = int(input())\nprint(n * 2)"
    assert solution_of(stdio, set()) == Solution(stdio)
    broken = "def f(:\n    pass\nprint(f())"
    assert solution_of(broken, {"f"}) == Solution(broken)


def test_a_program_of_test_code_only_comes_back_whole() -> None:
    code = "assert f(1) == 2\nprint(f(3))"
    assert solution_of(code, {"f"}) == Solution(code)


def test_the_solution_rule_applies_to_the_block_runnable_chose() -> None:
    response = f"Here you go:\n```python\n{MODEL_ANSWER}\n```\nAnd prose after."
    solution = extract_solution(response, calls={"f"})
    assert solution is not None and "assert" not in solution.code and "assert" in solution.dropped
    runnable = extract_solution(response, calls={"f"}, rule=Extraction.RUNNABLE)
    assert runnable == Solution(MODEL_ANSWER)


# Generated programs: definitions, set-up and test code in any order.
DEFINITIONS = [
    "def f(x):\n    return g(x) + K",
    "def g(x):\n    return x * 2",
    "class Box:\n    size = 3\n\n    def get(self):\n        return self.size",
    "import math",
    "from collections import Counter",
    "@staticmethod\ndef decorated():\n    return 1",
]
SET_UP = ["K = 7", "LIMIT = 10 ** 6  # a constant", "import sys\nsys.setrecursionlimit(5000)"]
TESTS = [
    "assert f(1) == 9",
    "print(f(2))",
    "print('demo')",
    'if __name__ == "__main__":\n    print(f(int(input())))',
    "for i in range(3):\n    assert f(i) > 0, i",
    "value = f(3)",
    "Box().get()",
]
FILLER = ["", "# a comment", "\n"]


def _program(parts: list[str]) -> str:
    return "\n".join(parts)


@st.composite
def programs(draw: st.DrawFn, with_tests: bool = True) -> tuple[str, list[str], list[str]]:
    kept = draw(st.lists(st.sampled_from(DEFINITIONS + SET_UP), min_size=1, max_size=6))
    kept = ["def f(x):\n    return g(x) + K", "def g(x):\n    return x * 2", "K = 7", *kept]
    tests = draw(st.lists(st.sampled_from(TESTS), max_size=6)) if with_tests else []
    fillers = draw(st.lists(st.sampled_from(FILLER), max_size=3))
    order = draw(st.permutations(kept + tests + fillers))
    # Definitions come first so that the program also runs; the rule must not depend on it.
    return _program(list(order)), kept, tests


def _top_level_names(code: str) -> set[str]:
    names = set()
    for node in ast.parse(code).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        for child in ast.walk(node):
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                names.add(child.id)
    return names


@settings(max_examples=150)
@given(programs(with_tests=False))
def test_a_program_without_top_level_tests_is_unchanged(drawn: tuple[str, list, list]) -> None:
    code, _, _ = drawn
    assert solution_of(code, {"f"}) == Solution(code)


@settings(max_examples=300)
@given(programs())
def test_nothing_a_definition_uses_is_dropped_and_every_test_goes(
    drawn: tuple[str, list[str], list[str]],
) -> None:
    code, kept, tests = drawn
    solution = solution_of(code, {"f"})
    for part in kept:
        assert part in solution.code
    for part in tests:
        assert part not in solution.code
        assert part in solution.dropped
    assert {"f", "g", "K"} <= _top_level_names(solution.code)
    compile(solution.code, "<solution>", "exec")
    assert solution_of(solution.code, {"f"}) == Solution(solution.code)


@settings(max_examples=300)
@given(programs())
def test_every_statement_line_is_kept_or_dropped(drawn: tuple[str, list[str], list[str]]) -> None:
    code, _, _ = drawn
    solution = solution_of(code, {"f"})
    judged = set(solution.code.splitlines()) | set(solution.dropped.splitlines())
    for line in code.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            assert line in judged


@settings(max_examples=200)
@given(st.text(max_size=300))
def test_any_text_gives_itself_or_a_compiling_solution(text: str) -> None:
    solution = solution_of(text, {"f"})
    if solution.code != text:
        compile(solution.code, "<solution>", "exec")


HOSTILE = [
    "open({marker!r}, 'w').write('top level')",
    "def f(x=open({marker!r}, 'w')):\n    return x",
    "@(lambda g: open({marker!r}, 'w') and g)\ndef f():\n    return 1",
    "class A(metaclass=type('M', (type,), {{'__init__': lambda *a: open({marker!r}, 'w')}})):\n"
    "    pass\ndef f():\n    return A",
    "__import__('os').system('touch ' + {marker!r})\ndef f():\n    return 1",
    'if __name__ == "__main__":\n    open({marker!r}, "w")\ndef f():\n    return 1',
    "assert open({marker!r}, 'w')\ndef f():\n    return 1",
    "def f():\n    return 1\nprint(open({marker!r}, 'w'))",
]


def test_nothing_kept_or_dropped_runs_on_the_host(tmp_path: Path) -> None:
    marker = str(tmp_path / "ran")
    for template in HOSTILE:
        program = template.format(marker=marker)
        for response in (program, f"```python\n{program}\n```"):
            for rule in Extraction:
                extract_solution(response, calls={"f"}, rule=rule)
    assert not Path(marker).exists()


def test_a_program_too_deep_to_parse_is_not_code() -> None:
    deep = "def f():\n    return " + "(" * 5000 + "1" + ")" * 5000
    assert extract_solution(deep, calls={"f"}) is None
