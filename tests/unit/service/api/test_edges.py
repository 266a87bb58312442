"""The API's edge helpers on their own: the JSON parser, log redaction, the schema fix."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter

from service.api.body import MAX_INT_DIGITS, parse_json
from service.api.logs import RedactTokens, redact
from service.api.openapi import require_discriminators
from service.errors import InvalidRequest


class Point(BaseModel):
    x: float = 0.0
    n: int = 0
    label: str = ""
    extra: dict[str, Any] = {}


POINT = TypeAdapter(Point)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"x": NaN}', "body"),
        (b'{"x": Infinity}', "body"),
        (b'{"label": "\\ud800"}', "body"),
        (b'{"label": "\xed\xa0\x80"}', "body"),
        (b'{"label": "caf\xe9"}', "body"),
        (b"[" * 300 + b"]" * 300, "body"),
        (b'{"x": 1e400}', "x"),
        (b'{"extra": {"deep": [1, -1e999]}}', "extra.deep.1"),
        (b'{"label": "a\\u0000"}', "label"),
        (b'{"extra": {"k\\u0000": 1}}', "extra.k\x00"),
        (b'{"extra": {"big": ' + b"1" * (MAX_INT_DIGITS + 1) + b"}}", "extra.big"),
    ],
)
def test_the_parser_refuses_what_no_column_can_hold(raw: bytes, field: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_json(raw, POINT)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("raw", "loc"),
    [
        (b'{"x": true}', ("body", "x")),
        (b'{"n": "8"}', ("body", "n")),
        (b'{"n": 1.5}', ("body", "n")),
        (b'{"label": 5}', ("body", "label")),
    ],
)
def test_the_parser_validates_strictly(raw: bytes, loc: tuple[str, ...]) -> None:
    with pytest.raises(RequestValidationError) as refused:
        parse_json(raw, POINT)
    assert refused.value.errors()[0]["loc"] == loc


def test_the_parser_keeps_good_values() -> None:
    raw = b'{"x": 3, "n": 2, "label": "\\ud83d\\ude00", "extra": {"big": ' + b"9" * 50 + b"}}"
    point = parse_json(raw, POINT)
    assert point == Point(x=3.0, n=2, label="\U0001f600", extra={"big": int("9" * 50)})


def test_tokens_are_redacted_in_messages_and_arguments() -> None:
    assert redact("/e?a=1&access_token=rsk_abc&b=2") == "/e?a=1&access_token=[redacted]&b=2"
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "f", 1, '%s "%s"', ("1.2.3.4", "/x?access_token=k"), None
    )
    assert RedactTokens().filter(record)
    assert record.getMessage() == '1.2.3.4 "/x?access_token=[redacted]"'


def test_discriminator_properties_become_required() -> None:
    schema: dict[str, Any] = {
        "paths": {
            "/p": {
                "x": {
                    "discriminator": {
                        "propertyName": "kind",
                        "mapping": {"a": "#/components/schemas/A", "b": "#/components/schemas/B"},
                    }
                }
            }
        },
        "components": {"schemas": {"A": {"required": ["x"]}, "B": {}}},
    }
    fixed = require_discriminators(schema)["components"]["schemas"]
    assert fixed["A"]["required"] == ["x", "kind"] and fixed["B"]["required"] == ["kind"]
