"""Extracting the program from a model's response (see docs/sandbox.md).

The rules, applied after normalizing line endings to `\\n`:
1. No fence (```` ``` ````) anywhere: the whole response is the program, stripped.
2. Otherwise the candidates are every complete block matching ```` ```(\\w*)\\n(.*?)``` ````
   (left to right, non-overlapping) and, after the last complete block, the text following an
   opener (```` ```lang\\n ````) that is never closed: a generation cut at its length limit.
3. The longest candidate body wins (the first on ties), with its leading blank lines and its
   trailing whitespace removed.
4. A response that is empty, whitespace, or has fences but no non-blank candidate gives None:
   the judge reports a format error.
"""

from __future__ import annotations

import re

FENCE = "```"
_BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)
_OPENER = re.compile(r"```\w*\n")


def extract_code(response: str) -> str | None:
    """The program inside `response`, or None when there is none to run."""
    text = response.replace("\r\n", "\n").replace("\r", "\n")
    if FENCE not in text:
        return text.strip() or None
    candidates = [_trim(body) for body in _bodies(text)]
    longest = max(candidates, key=len, default="")
    return longest or None


def _bodies(text: str) -> list[str]:
    """Complete block bodies, then the tail of an unclosed opener after the last block."""
    bodies: list[str] = []
    rest_start = 0
    for match in _BLOCK.finditer(text):
        bodies.append(match.group(2))
        rest_start = match.end()
    opener = _OPENER.search(text, rest_start)
    if opener is not None:
        bodies.append(text[opener.end() :])
    return bodies


def _trim(body: str) -> str:
    # Keep the first code line's indentation: only whole blank lines go from the front.
    lines = body.rstrip().split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines)
