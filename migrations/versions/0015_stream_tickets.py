"""stream tickets: one-time tickets that open a live stream in a browser (SPEC §13)

A browser's ``EventSource`` cannot send an ``Authorization`` header. A new table holds the
hash of each ticket, whom and which stream path it is for, when it expires and when it was used
(single use across every API process). Nothing existing changes; downgrade drops the table.

Revision ID: 0015_stream_tickets
Revises: 0012_accounts_audit_chain
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_stream_tickets"
down_revision: str | None = "0012_accounts_audit_chain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stream_tickets",
        sa.Column("ticket_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("credential_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_stream_tickets_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stream_tickets")),
        sa.UniqueConstraint("ticket_hash", name=op.f("uq_stream_tickets_ticket_hash")),
    )
    op.create_index("ix_stream_tickets_expires_at", "stream_tickets", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_stream_tickets_expires_at", table_name="stream_tickets")
    op.drop_table("stream_tickets")
