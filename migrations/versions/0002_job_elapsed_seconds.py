"""jobs.elapsed_seconds: the seconds a job has spent, kept on its row

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

Written with each event and read on resume, in place of recovering the time by inverting the
newest event's `budget_left.seconds`. Existing rows start at 0: a job that is running while
the database is upgraded resumes with its clock at zero (it may spend its wall budget again;
its attempts are counted exactly). The server default makes the NOT NULL column addable to
a table that has rows.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(
            sa.Column("elapsed_seconds", sa.Float(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("elapsed_seconds")
