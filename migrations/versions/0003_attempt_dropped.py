"""attempts.dropped: the top-level test code left out of the judged program

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

The `solution` extraction rule judges a response's code without its top-level test code (the
model's own asserts, demonstration calls, prints, main guard); the attempt keeps what was left
out beside the judged `code`. Existing attempts were judged whole: they get "".
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("dropped", sa.Text(), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("dropped")
