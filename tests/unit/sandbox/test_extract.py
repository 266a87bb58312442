"""Code extraction from model responses: fenced, plain, truncated and empty, by both rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.extract import Extraction, called_names, extract_code
from sandbox.problem import (
    AssertCase,
    AssertTests,
    FunctionalCase,
    FunctionalTests,
    StdioCase,
    StdioTests,
)

FENCE = "```"
code_line = st.from_regex(r"[a-z_][a-z0-9_ =+()]{0,30}", fullmatch=True)
code_text = st.lists(code_line, min_size=1, max_size=6).map("\n".join)
prose = st.text(alphabet=st.characters(codec="ascii", exclude_characters="`"), max_size=40)
LONGEST = Extraction.LONGEST


def longest(response: str) -> str | None:
    return extract_code(response, rule=LONGEST)


# The paper's rule: the longest candidate.


def test_single_block() -> None:
    response = "Here you go:\n```python\nprint(1)\n```\nDone."
    assert longest(response) == "print(1)"


def test_longest_rule_takes_the_longest_block() -> None:
    response = "```\nx = 1\n```\ntext\n```python\ndef f():\n    return 2\n```\n```py\ny\n```"
    assert longest(response) == "def f():\n    return 2"


def test_first_of_equally_long_blocks() -> None:
    assert longest("```\naa\n```\n```\nbb\n```") == "aa"


def test_no_fence_is_plain_code() -> None:
    assert longest("\n  def f():\n    return 1\n\n") == "def f():\n    return 1"


def test_unclosed_opener_is_a_truncated_block() -> None:
    response = "Let me think.\n```python\nimport sys\nfor line in sys.stdin:"
    assert longest(response) == "import sys\nfor line in sys.stdin:"


def test_unclosed_opener_after_a_complete_block_competes_on_length() -> None:
    response = "```\nx\n```\nNow the full program:\n```python\nimport sys\nprint(sum(map(int, sys"
    assert longest(response) == "import sys\nprint(sum(map(int, sys"


def test_windows_line_endings() -> None:
    assert longest("```python\r\nprint(1)\r\n```\r\n") == "print(1)"


def test_indentation_of_the_first_line_is_kept() -> None:
    assert longest("```\n\n    x = 1\n```") == "    x = 1"


@pytest.mark.parametrize(
    "response",
    ["", "   \n\t", "```python\n```", "```\n   \n```", "use ``` fences", "```python\n   "],
)
def test_nothing_to_run_is_none(response: str) -> None:
    assert longest(response) is None


@given(before=prose, code=code_text, after=prose, lang=st.sampled_from(["", "python", "py3"]))
def test_a_fenced_block_comes_back_whole(before: str, code: str, after: str, lang: str) -> None:
    response = f"{before}\n{FENCE}{lang}\n{code}\n{FENCE}\n{after}"
    assert longest(response) == code.rstrip()


@given(code=code_text)
def test_plain_code_comes_back_stripped(code: str) -> None:
    assert longest(f"\n{code}\n\n") == code.strip()


@given(before=prose, code=code_text, lang=st.sampled_from(["", "python"]))
def test_truncated_block_comes_back(before: str, code: str, lang: str) -> None:
    assert longest(f"{before}\n{FENCE}{lang}\n{code}") == code.rstrip()


@given(response=st.text(max_size=200))
def test_result_is_none_or_nonblank_and_inside_the_response(response: str) -> None:
    code = longest(response)
    assert code is None or code.strip()
    if code is not None:
        assert code in response.replace("\r\n", "\n").replace("\r", "\n")


# The default rule: the longest candidate that compiles and defines what the tests call.

DEMO_RESPONSE = (
    "Here is the function:\n```python\ndef sum_evens(xs):\n"
    "    return sum(x for x in xs if x % 2 == 0)\n```\n"
    "It works like this. For example, calling it on a list adds up the even items, and any odd\n"
    "item is skipped entirely; an empty list gives zero.\n```\nThat is all there is to it, "
    "really, and the tests should pass now that every case is handled as described above.\n```"
)


def test_the_defining_block_beats_a_longer_stretch_of_prose() -> None:
    assert longest(DEMO_RESPONSE).startswith("That is all")  # type: ignore[union-attr]
    code = extract_code(DEMO_RESPONSE, calls={"sum_evens"})
    assert code == "def sum_evens(xs):\n    return sum(x for x in xs if x % 2 == 0)"


def test_a_block_defining_the_entry_point_beats_a_longer_usage_block() -> None:
    response = "```python\ndef f(x):\n    return x\n```\n```python\nprint(f(1))\nprint(f(2))\n```"
    assert extract_code(response, calls={"f"}) == "def f(x):\n    return x"


def test_among_defining_blocks_the_longest_wins() -> None:
    response = "```\ndef f():\n    pass\n```\n```\nimport os\n\ndef f():\n    return 1\n```"
    assert extract_code(response, calls={"f"}) == "import os\n\ndef f():\n    return 1"


def test_a_compiling_block_beats_a_longer_one_that_does_not_compile() -> None:
    response = "```\nx = 1\n```\n```\nthis is not python at all\n```"
    assert extract_code(response, calls={"f"}) == "x = 1"


def test_with_nothing_compiling_the_longest_is_judged_for_its_feedback() -> None:
    response = "```\nno code here\n```\n```\ndef f(:\n    return\n```"
    assert extract_code(response, calls={"f"}) == "def f(:\n    return"


def test_symbol_table_errors_do_not_compile() -> None:
    response = "```\nreturn 1\n```\n```\nx = 2\n```"
    assert extract_code(response) == "x = 2"


def test_class_method_needs_the_method_in_the_class() -> None:
    only_class = "class Solution:\n    def other(self):\n        return 0\n    x = 1"
    response = (
        f"```\n{only_class}\n```\n```\nclass Solution:\n    def solve(self):\n        return 1\n```"
    )
    assert extract_code(response, calls={"Solution.solve"}).endswith("return 1")  # type: ignore[union-attr]


def test_names_bound_inside_top_level_blocks_count() -> None:
    response = "```\ntry:\n    from math import gcd as f\nexcept ImportError:\n    f = None\n```"
    assert extract_code(response, calls={"f"}) is not None


def test_without_a_fence_only_compiling_text_is_code() -> None:
    assert extract_code("def f():\n    return 1\n") == "def f():\n    return 1"
    assert extract_code("Sorry, I cannot write this program.") is None
    assert longest("Sorry, I cannot write this program.") is not None


@pytest.mark.parametrize(
    "response",
    [
        "```\n" + "(" * 5000 + "\n```",
        "```\n" + "[" * 100 + "]" * 100 + "\n```",
        "```\nx = '\x00'\n```",
        "```\n" + "if x:\n" + "".join(" " * i + "if x:\n" for i in range(1, 200)) + "\n```",
        "```\n" + "1" * 10_000 + " ** 9\n```",
        "```\n" + "x = " + "-" * 100_000 + "1\n```",
    ],
)
def test_hostile_text_never_raises(response: str) -> None:
    extract_code(response, calls={"f"})
    extract_code(response.replace("```\n", "").replace("\n```", ""), calls={"f"})


def test_called_names_of_each_test_kind() -> None:
    functional = FunctionalTests(public=[FunctionalCase(args=[1])], entry_point="Solution.solve")
    assert called_names(functional) == {"Solution.solve"}
    assert called_names(StdioTests(public=[StdioCase(input="1", output="1")])) == frozenset()
    asserts = AssertTests(
        public=[AssertCase(code="assert remove_odd([1, 2]) == [2]\nassert len(helper(3)) == 1")],
        hidden=[AssertCase(code="def helper(n):\n    return [n]\nassert remove_odd([]) == []")],
    )
    assert called_names(asserts) == {"remove_odd", "helper"}
    humaneval = AssertTests(
        public=[AssertCase(code="def check(c):\n    assert c(1)")], entry_point="g"
    )
    assert called_names(humaneval) == {"g"}


def test_called_names_skips_test_code_that_does_not_parse() -> None:
    tests = AssertTests(public=[AssertCase(code="assert (("), AssertCase(code="assert f(1)")])
    assert called_names(tests) == {"f"}


SNIPPETS = {
    "defines": "def f(x):\n    return x",
    "defines_long": "import math\n\ndef f(x):\n    return math.floor(x)",
    "compiles": "print(f(1))",
    "compiles_long": "for i in range(3):\n    print(f(i), i)",
    "broken": "def f(x) return x",
    "prose": "This is the explanation of the code above.",
}
_TIER = {
    "defines": 0,
    "defines_long": 0,
    "compiles": 1,
    "compiles_long": 1,
    "broken": 2,
    "prose": 2,
}


def _reference(keys: list[str]) -> str:
    """Brute force: rank every block by (tier, longer first, earlier first) and take the top."""
    ranked = sorted(range(len(keys)), key=lambda i: (_TIER[keys[i]], -len(SNIPPETS[keys[i]]), i))
    return SNIPPETS[keys[ranked[0]]]


@given(keys=st.lists(st.sampled_from(sorted(SNIPPETS)), min_size=1, max_size=6), between=prose)
def test_runnable_rule_matches_a_brute_force_ranking(keys: list[str], between: str) -> None:
    response = f"\n{between}\n".join(f"{FENCE}python\n{SNIPPETS[k]}\n{FENCE}" for k in keys)
    assert extract_code(response, calls={"f"}) == _reference(keys)


@given(response=st.text(max_size=200), calls=st.sets(st.sampled_from(["f", "g", "A.m"])))
def test_runnable_result_is_none_or_one_of_the_longest_rules_candidates(
    response: str, calls: set[str]
) -> None:
    code = extract_code(response, calls=calls)
    if code is not None:
        assert code.strip()
        assert code in response.replace("\r\n", "\n").replace("\r", "\n")
    if FENCE in response and longest(response) is None:
        assert code is None


def test_code_that_warns_still_compiles() -> None:
    assert extract_code('```\nx = 1\nprint(x is 1, "\\d")\n```') is not None


def test_concurrent_extraction_agrees_with_sequential() -> None:
    from concurrent.futures import ThreadPoolExecutor

    responses = [
        f"```python\ndef f(x):\n    return x + {i}\n```\nprose\n```\nno\n```" for i in range(64)
    ]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda r: extract_code(r, calls={"f"}), responses))
    assert together == [extract_code(r, calls={"f"}) for r in responses]
