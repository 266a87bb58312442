"""Cursor pagination: lists answer `{"data": [...], "next_cursor": null | str}`.

A cursor is the sort key of the last row served, as URL-safe base64 of JSON. It is opaque to
callers but not secret: a forged cursor can only skip rows of the caller's own list, since
every query filters by owner first. Decoding checks the key against its declared types
(strict: `true` is no integer, `1.0` is no index, `null` is nothing), so a forged or damaged
cursor is `InvalidCursor` (422), never a query parameter the database refuses.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter, ValidationError

from service.store.errors import InvalidCursor

T = TypeVar("T")
U = TypeVar("U")
K = TypeVar("K")
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, and the cursor of the next one (None on the last page)."""

    data: list[T]
    next_cursor: str | None

    def map(self, convert: Callable[[T], U]) -> Page[U]:
        """The same page with each row converted (e.g. to its wire model)."""
        return Page([convert(row) for row in self.data], self.next_cursor)

    def to_wire(self, convert: Callable[[T], Any]) -> dict[str, Any]:
        """The `{"data", "next_cursor"}` shape every list endpoint answers."""
        return {"data": [convert(row) for row in self.data], "next_cursor": self.next_cursor}


def encode_cursor(key: Sequence[str | int]) -> str:
    """The cursor for a row's sort key."""
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, key_type: TypeAdapter[K]) -> K:
    """The sort key inside `cursor` as `key_type` (a tuple type), or `InvalidCursor` if it is
    not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode())
        return key_type.validate_json(raw, strict=True)
    except (binascii.Error, ValueError, ValidationError) as exc:
        raise InvalidCursor(cursor) from exc


def page_size(limit: int) -> int:
    """`limit` clamped to 1..MAX_PAGE_SIZE."""
    return max(1, min(limit, MAX_PAGE_SIZE))


def make_page(rows: Sequence[T], limit: int, key: Callable[[T], Sequence[str | int]]) -> Page[T]:
    """A page from up to `limit + 1` rows: the extra row only says that another page exists."""
    if len(rows) <= limit:
        return Page(list(rows), None)
    kept = list(rows[:limit])
    return Page(kept, encode_cursor(key(kept[-1])))
