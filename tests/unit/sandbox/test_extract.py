"""Code extraction from model responses: fenced, plain, truncated and empty."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.extract import extract_code

FENCE = "```"
code_line = st.from_regex(r"[a-z_][a-z0-9_ =+()]{0,30}", fullmatch=True)
code_text = st.lists(code_line, min_size=1, max_size=6).map("\n".join)
prose = st.text(alphabet=st.characters(codec="ascii", exclude_characters="`"), max_size=40)


def test_single_block() -> None:
    response = "Here you go:\n```python\nprint(1)\n```\nDone."
    assert extract_code(response) == "print(1)"


def test_longest_block_wins() -> None:
    response = "```\nx = 1\n```\ntext\n```python\ndef f():\n    return 2\n```\n```py\ny\n```"
    assert extract_code(response) == "def f():\n    return 2"


def test_first_of_equally_long_blocks() -> None:
    assert extract_code("```\naa\n```\n```\nbb\n```") == "aa"


def test_no_fence_is_plain_code() -> None:
    assert extract_code("\n  def f():\n    return 1\n\n") == "def f():\n    return 1"


def test_unclosed_opener_is_a_truncated_block() -> None:
    response = "Let me think.\n```python\nimport sys\nfor line in sys.stdin:"
    assert extract_code(response) == "import sys\nfor line in sys.stdin:"


def test_unclosed_opener_after_a_complete_block_competes_on_length() -> None:
    response = "```\nx\n```\nNow the full program:\n```python\nimport sys\nprint(sum(map(int, sys"
    assert extract_code(response) == "import sys\nprint(sum(map(int, sys"


def test_windows_line_endings() -> None:
    assert extract_code("```python\r\nprint(1)\r\n```\r\n") == "print(1)"


def test_indentation_of_the_first_line_is_kept() -> None:
    assert extract_code("```\n\n    x = 1\n```") == "    x = 1"


@pytest.mark.parametrize(
    "response",
    ["", "   \n\t", "```python\n```", "```\n   \n```", "use ``` fences", "```python\n   "],
)
def test_nothing_to_run_is_none(response: str) -> None:
    assert extract_code(response) is None


@given(before=prose, code=code_text, after=prose, lang=st.sampled_from(["", "python", "py3"]))
def test_a_fenced_block_comes_back_whole(before: str, code: str, after: str, lang: str) -> None:
    response = f"{before}\n{FENCE}{lang}\n{code}\n{FENCE}\n{after}"
    assert extract_code(response) == code.rstrip()


@given(code=code_text)
def test_plain_code_comes_back_stripped(code: str) -> None:
    assert extract_code(f"\n{code}\n\n") == code.strip()


@given(before=prose, code=code_text, lang=st.sampled_from(["", "python"]))
def test_truncated_block_comes_back(before: str, code: str, lang: str) -> None:
    assert extract_code(f"{before}\n{FENCE}{lang}\n{code}") == code.rstrip()


@given(response=st.text(max_size=200))
def test_result_is_none_or_nonblank_and_inside_the_response(response: str) -> None:
    code = extract_code(response)
    assert code is None or code.strip()
    if code is not None:
        assert code in response.replace("\r\n", "\n").replace("\r", "\n")
