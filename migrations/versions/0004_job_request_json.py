"""jobs.request: the stored request as one JSON value, in place of seven columns

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

`POST /solve`'s request was split into `strategy`, `problem`, `budget`, `sdpo`, `sampling`,
`seed` and `metadata`, which no query filters, and put together again to be read. It is now
one JSON value that `SolveRequest` reads back whole. Existing rows are moved into it (and out
again on downgrade), in batches, inside the migration's transaction.
"""

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH_ROWS = 500
# (column, type, nullable) of the parts, as 0001 created them; the JSON key of each.
PARTS: tuple[tuple[str, Any, bool], ...] = (
    ("strategy", sa.String(length=32), False),
    ("problem", sa.JSON(), False),
    ("budget", sa.JSON(), False),
    ("sdpo", sa.JSON(), False),
    ("sampling", sa.JSON(), False),
    ("seed", sa.Integer(), True),
    ("metadata", sa.JSON(), False),
)


def _jobs(*names: str) -> sa.TableClause:
    types = {name: kind for name, kind, _ in PARTS} | {"request": sa.JSON(), "id": sa.String()}
    return sa.table("jobs", *(sa.column(name, types[name]) for name in names))


def _rows(connection: sa.Connection, table: sa.TableClause) -> Iterator[list[sa.Row[Any]]]:
    query = sa.select(*table.columns).order_by(table.c.id)
    result = connection.execute(query)
    while batch := result.fetchmany(BATCH_ROWS):
        yield list(batch)


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("request", sa.JSON(), nullable=True))
    connection = op.get_bind()
    source = _jobs("id", *(name for name, _, _ in PARTS))
    target = _jobs("id", "request")
    updates = []
    for rows in _rows(connection, source):
        for row in rows:
            parts = row._mapping
            request = {name: parts[name] for name, _, _ in PARTS}
            request["seed"] = request["seed"] or 0
            updates.append({"job_id": row.id, "value": request})
    for start in range(0, len(updates), BATCH_ROWS):
        statement = (
            target.update()
            .where(target.c.id == sa.bindparam("job_id"))
            .values(request=sa.bindparam("value", type_=sa.JSON()))
        )
        connection.execute(statement, updates[start : start + BATCH_ROWS])
    with op.batch_alter_table("jobs") as batch:
        batch.alter_column("request", existing_type=sa.JSON(), nullable=False)
        for name, _, _ in PARTS:
            batch.drop_column(name)


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        for name, kind, _ in PARTS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    connection = op.get_bind()
    source = _jobs("id", "request")
    target = _jobs("id", *(name for name, _, _ in PARTS))
    updates = []
    for rows in _rows(connection, source):
        for row in rows:
            request = row.request
            values = {f"v_{name}": request.get(name) for name, _, _ in PARTS}
            values["v_metadata"] = values["v_metadata"] or {}
            updates.append({"job_id": row.id, **values})
    if updates:
        statement = (
            target.update()
            .where(target.c.id == sa.bindparam("job_id"))
            .values({name: sa.bindparam(f"v_{name}", type_=kind) for name, kind, _ in PARTS})
        )
        for start in range(0, len(updates), BATCH_ROWS):
            connection.execute(statement, updates[start : start + BATCH_ROWS])
    with op.batch_alter_table("jobs") as batch:
        for name, kind, nullable in PARTS:
            if not nullable:
                batch.alter_column(name, existing_type=kind, nullable=False)
        batch.drop_column("request")
