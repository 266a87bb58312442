"""File downloads with `Range` as HTTP says (RFC 9110 §14.2, §15.5.17): an invalid `Range`
(`bytes=5-1`, `bytes=abc`, another unit) is ignored and the whole file sent (200); a valid one
that starts past the end is a 416 with `Content-Range: bytes */N` in the documented error
shape (`RangeNotSatisfiable`); otherwise Starlette's `FileResponse` serves the ranges."""

from __future__ import annotations

from pathlib import Path

from starlette.datastructures import Headers
from starlette.responses import FileResponse
from starlette.responses import MalformedRangeHeader as _Malformed
from starlette.responses import RangeNotSatisfiable as _Unsatisfiable

from service.errors import RangeNotSatisfiable


class RangedFile(FileResponse):
    """`FileResponse` that ignores an invalid `Range` instead of answering a plain-text 400."""

    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        try:
            return super()._parse_range_header(http_range, file_size)
        except _Malformed:
            return []  # no range: the whole file


def check_range(headers: Headers, path: Path) -> None:
    """`RangeNotSatisfiable` for a valid `Range` past the end of `path`, before any byte is
    sent (a failed `If-Range` means the whole file, so the range is not looked at)."""
    http_range = headers.get("range")
    if http_range is None or "if-range" in headers:
        return
    size_bytes = path.stat().st_size
    try:
        RangedFile._parse_range_header(http_range, size_bytes)
    except _Unsatisfiable:
        raise RangeNotSatisfiable(size_bytes) from None
