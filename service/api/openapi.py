"""The OpenAPI schema as the API validates: discriminator properties are required.

Pydantic gives a tagged union's tag field its default (`kind: "stdio"`), so the generated
schema marks it optional, while validation needs it to pick the member. Marking each
member's tag as required makes the schema say what the server accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

Schema = dict[str, Any]


def require_discriminators(schema: Schema) -> Schema:
    """Mark `discriminator.propertyName` required in every schema its mapping names."""
    components: Schema = schema.get("components", {}).get("schemas", {})
    for node in _nodes(schema):
        discriminator = node.get("discriminator")
        if not isinstance(discriminator, dict):
            continue
        name = discriminator.get("propertyName")
        for ref in discriminator.get("mapping", {}).values():
            member = components.get(str(ref).rsplit("/", 1)[-1])
            if member is not None and name not in member.setdefault("required", []):
                member["required"].append(name)
    return schema


def _nodes(value: Any) -> list[Schema]:
    """Every object inside `value` (iterative)."""
    found: list[Schema] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def install_schema(app: FastAPI) -> None:
    """Serve the corrected schema at `/openapi.json` (built once, as FastAPI does)."""
    generate: Callable[[], Schema] = app.openapi

    def openapi() -> Schema:
        if app.openapi_schema is None:
            app.openapi_schema = require_discriminators(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
