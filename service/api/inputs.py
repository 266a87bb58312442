"""The typed values the API reads from paths, queries and headers: one definition per kind.

Each is an `Annotated` type that FastAPI validates before a handler runs, so a bad value is a
422 naming the parameter (`job_id`, `after`, `Last-Event-ID`, `Idempotency-Key`), never a
database error. Bounds come from what the store can hold (`service.store.bounds`): a job id is
the store's id alphabet and length, an event seq fits the column. The JSON body has its own
edge (`service.api.body`). See docs/http-api.md, "Limits".
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Query
from fastapi import Path as PathParam

from service.store.bounds import ID_MAX_CHARS, ID_PATTERN, MAX_SEQ

TOKEN_MAX_CHARS = 200
CURSOR_MAX_CHARS = 500
CURSOR_PATTERN = r"^[A-Za-z0-9_-]*={0,2}$"  # URL-safe base64, what the store writes
# Printable ASCII only: no NUL or other control characters reach a database column.
HEADER_TOKEN_PATTERN = r"^[\x21-\x7e]+$"
MAX_PAGE_SIZE = 200

JobId = Annotated[
    str,
    PathParam(
        min_length=1,
        max_length=ID_MAX_CHARS,
        pattern=ID_PATTERN,
        description="a job's id (letters, digits, '-' and '_')",
    ),
]
AfterSeq = Annotated[
    int,
    Query(ge=0, le=MAX_SEQ, description="resume after this event seq (`Last-Event-ID` wins)"),
]
LastEventId = Annotated[
    int | None,
    Header(
        alias="Last-Event-ID",
        ge=0,
        le=MAX_SEQ,
        description="the seq of the last event received; replay starts after it",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=TOKEN_MAX_CHARS,
        pattern=HEADER_TOKEN_PATTERN,
        description="printable ASCII; a retried request with the same key and body gets the "
        "same job",
    ),
]
AUTHORIZATION_MAX_CHARS = 1000
Authorization = Annotated[
    str | None,
    Header(max_length=AUTHORIZATION_MAX_CHARS, description="`Bearer <key>`"),
]
AccessToken = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=TOKEN_MAX_CHARS,
        pattern=HEADER_TOKEN_PATTERN,
        description="the API key, for clients that cannot set `Authorization`",
    ),
]
Cursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=CURSOR_MAX_CHARS,
        pattern=CURSOR_PATTERN,
        description="`next_cursor` of the previous page",
    ),
]
PageLimit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="rows per page")]
