"""Secrets stay out of the logs: access tokens in logged URLs are redacted.

Browsers send the API key as `?access_token=` where they cannot set a header (events,
WebSocket, adapter download), and the server's access log writes each request's URL. The
filter rewrites every logged string of the server's loggers, so a URL appears as
`/jobs/ID/events?access_token=[redacted]`. Keys are never logged anywhere else.
"""

from __future__ import annotations

import logging
import re
from typing import Any

SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error", "uvicorn")
_TOKEN = re.compile(r"(access_token=)[^&\s\"']*", re.IGNORECASE)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """`text` with the value of every `access_token=` replaced."""
    return _TOKEN.sub(rf"\g<1>{REDACTED}", text)


def _redacted(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactTokens(logging.Filter):
    """Redact access tokens in a record's message and arguments (it never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redacted(arg) for key, arg in record.args.items()}
        return True


def install_redaction() -> None:
    """Put one `RedactTokens` on each server logger (idempotent: apps are built many times)."""
    for name in SERVER_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(existing, RedactTokens) for existing in target.filters):
            target.addFilter(RedactTokens())
