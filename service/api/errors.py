"""The one place where errors become HTTP answers: `{"error": {"code", "message", "field"}}`.

Service errors carry their own status and code (`service.errors`); request validation
answers 422 naming the first bad field as a dotted path (`budget.max_attempts`,
`problem.tests.public.0.output`); anything unexpected is a 500 that names no internals.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from service.api.schemas import ErrorBody, ErrorDetail
from service.errors import ServiceError

logger = logging.getLogger(__name__)
_SOURCES = ("body", "query", "path", "header", "cookie")
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}


def error_response(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    """The error shape every endpoint answers with."""
    body = ErrorBody(error=ErrorDetail(code=code, message=message, field=field))
    return JSONResponse(body.model_dump(), status_code=status)


def field_path(loc: Sequence[Any]) -> str:
    """`("body", "budget", "max_attempts")` → `budget.max_attempts`; a header keeps its name."""
    parts = list(loc)
    if parts and parts[0] in _SOURCES:
        source = parts.pop(0)
        if not parts:
            return str(source)
    return ".".join(str(part) for part in parts)


def describe_request_error(exc: RequestValidationError) -> tuple[str, str]:
    """The first error's field and a message for people."""
    errors = exc.errors()
    first = errors[0]
    field = field_path(first.get("loc", ()))
    if first.get("type") == "json_invalid":
        return "body", f"the body is not valid JSON: {first.get('ctx', {}).get('error', '')}"
    message = f"{field}: {first.get('msg', 'invalid')}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    return field, message


def install_error_handlers(app: FastAPI) -> None:
    """Map every error the app can raise onto the one JSON shape."""

    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return error_response(exc.status_code, exc.code, exc.message, exc.field)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        field, message = describe_request_error(exc)
        return error_response(422, "invalid_request", message, field)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "internal error; the server log has the details")
