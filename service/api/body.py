"""The one edge for JSON the API reads: request bodies and WebSocket text frames.

`parse_json` turns raw bytes into a validated model or raises, naming the field:
- the bytes must be UTF-8 JSON without lone surrogates, `NaN` or `Infinity`, nested at most
  200 deep (pydantic's parser refuses the rest): `InvalidRequest` on `body`;
- every string (keys too) must be free of NUL, every float finite (`1e400` parses as
  infinity) and every integer at most `MAX_INT_DIGITS` digits long (longer ones cannot be
  written back as JSON): `InvalidRequest` naming the dotted path, e.g. `problem.statement`;
- the model validates strictly: `true` is not a number, `"8"` is not an integer:
  `RequestValidationError`, which `service.api.errors` answers as 422 naming the field.

`CheckedRoute` runs it for every route with a JSON body before FastAPI reads the body, so
routes get their body typed and checked, and no route patches input by hand. See
docs/http-api.md, "Errors".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pydantic_core
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.types import Receive, Scope

from service.errors import InvalidRequest

T = TypeVar("T")
Handler = Callable[[Request], Coroutine[Any, Any, Response]]
Path = tuple[str | int, ...]
MAX_INT_DIGITS = 1000
_INT_BOUND = 10**MAX_INT_DIGITS


def parse_json(raw: bytes, model: TypeAdapter[T], *, source: str = "body") -> T:
    """`raw` as `model`, checked as the module docstring says; errors name `source` first."""
    try:
        value = pydantic_core.from_json(raw, allow_inf_nan=False)
    except ValueError as exc:
        raise InvalidRequest(f"{source} is not valid JSON: {exc}", field=source) from exc
    _check_values(value, source)
    try:
        return model.validate_json(raw, strict=True)
    except ValidationError as exc:
        raise RequestValidationError(_located(exc, source)) from exc


def _check_values(value: Any, source: str) -> None:
    for path, item in _walk(value, ()):
        problem = _problem_with(item)
        if problem is not None:
            field = ".".join(str(part) for part in path) or source
            raise InvalidRequest(f"{field}: {problem}", field=field)


def _problem_with(item: Any) -> str | None:
    """What is wrong with one scalar of the JSON, or None."""
    if isinstance(item, str):
        return "NUL characters are not accepted" if "\x00" in item else None
    if isinstance(item, float):
        return None if math.isfinite(item) else "numbers must be finite"
    if isinstance(item, int) and abs(item) >= _INT_BOUND:
        return f"integers may have at most {MAX_INT_DIGITS} digits"
    return None


def _walk(value: Any, path: Path) -> Iterator[tuple[Path, Any]]:
    """Every string, key and number in `value` with its path (iterative: no recursion)."""
    stack: list[tuple[Path, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                yield (*where, key), key
                stack.append(((*where, key), child))
        elif isinstance(item, list):
            stack.extend(((*where, index), child) for index, child in enumerate(item))
        else:
            yield where, item


def _located(exc: ValidationError, source: str) -> list[dict[str, Any]]:
    """Pydantic's errors with `source` in front of each location, as FastAPI reports them."""
    return [{**error, "loc": (source, *error["loc"])} for error in exc.errors()]


class CheckedRoute(APIRoute):
    """An `APIRoute` whose JSON body goes through `parse_json` before the handler runs.

    The checked model is handed to FastAPI in place of the parsed JSON, so FastAPI neither
    parses nor validates the body a second time (a model instance passes as it is).
    """

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        annotation = None if self.body_field is None else self.body_field.field_info.annotation
        if annotation is None:
            return handler
        model: TypeAdapter[Any] = TypeAdapter(annotation)

        async def checked(request: Request) -> Response:
            raw = await request.body()
            if not raw:
                raise InvalidRequest("a JSON body is required", field="body")
            checked_body = parse_json(raw, model)
            return await handler(_Checked(request.scope, request.receive, raw, checked_body))

        return checked


class _Checked(Request):
    """A request whose body was read, parsed and validated already."""

    def __init__(self, scope: Scope, receive: Receive, raw: bytes, checked: Any) -> None:
        super().__init__(scope, receive)
        self._raw, self._checked = raw, checked

    async def body(self) -> bytes:
        return self._raw

    async def json(self) -> Any:
        return self._checked
