"""administrations and assessments can be retracted (entered-in-error)

A mistyped dose counted toward the session total for good, and a mistyped PHQ-9 item 9 left a
permanent critical alert: both tables gain ``status`` (``final`` | ``entered-in-error``) and who
retracted, when and why, as readings have. Existing rows become ``final`` through the server
default. SQLite cannot add a CHECK constraint in place, so the batch mode rebuilds the tables
there; PostgreSQL alters them in place.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("administrations", "assessments")
_STATUS_CHECK = "status IN ('final', 'entered-in-error')"


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("status", sa.String(length=24), server_default="final", nullable=False)
            )
            batch_op.add_column(
                sa.Column("retracted_at", sa.DateTime(timezone=True), nullable=True)
            )
            batch_op.add_column(sa.Column("retracted_by", sa.String(length=64), nullable=True))
            batch_op.add_column(sa.Column("retraction_reason", sa.Text(), nullable=True))
            batch_op.create_check_constraint(op.f(f"ck_{table}_status"), _STATUS_CHECK)


def downgrade() -> None:
    for table in reversed(_TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f"ck_{table}_status"), type_="check")
            batch_op.drop_column("retraction_reason")
            batch_op.drop_column("retracted_by")
            batch_op.drop_column("retracted_at")
            batch_op.drop_column("status")
