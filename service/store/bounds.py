"""What the store's columns can hold, for the edges that must refuse anything beyond it.

Integer columns are 32-bit on Postgres (`INTEGER`), so an event seq or an attempt index past
`MAX_INT32` could never match a row and would fail as a query parameter there. Ids are the
UUIDs the store writes; any id outside `ID_PATTERN` names no job on either database.
"""

from __future__ import annotations

MAX_INT32 = 2**31 - 1
MAX_SEQ = MAX_INT32  # events.seq
MAX_INDEX = MAX_INT32  # attempts.index
ID_MAX_CHARS = 64
ID_PATTERN = r"^[A-Za-z0-9_-]+$"
