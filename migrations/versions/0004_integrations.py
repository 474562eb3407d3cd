"""integrations: devices and session bindings, HL7 v2 message log, quarantine, live events

Devices and their bindings to sessions (one open binding per device: a partial unique index),
the processed HL7 v2 messages with their ACKs (unique per sender and MSH-10), the quarantine of
readings that could not be stored, and the append-only outbox the live (SSE) streams read.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("identifier", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("location", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("identifier", name=op.f("uq_devices_identifier")),
    )
    op.create_table(
        "hl7_messages",
        sa.Column("sender", sa.String(length=255), nullable=False),
        sa.Column("control_id", sa.String(length=200), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("ack_code", sa.String(length=2), nullable=False),
        sa.Column("ack", sa.Text(), nullable=False),
        sa.Column("stored", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hl7_messages")),
        sa.UniqueConstraint("sender", "control_id", name=op.f("uq_hl7_messages_sender_control_id")),
    )
    op.create_table(
        "live_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('reading', 'alert', 'status')", name=op.f("ck_live_events_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_events")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("live_events", schema=None) as batch_op:
        batch_op.create_index("ix_live_events_session_id_id", ["session_id", "id"], unique=False)

    op.create_table(
        "quarantined_readings",
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("device_identifier", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("message_control_id", sa.String(length=200), nullable=True),
        sa.Column("item_index", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "channel IN ('observations', 'hl7v2', 'fhir')",
            name=op.f("ck_quarantined_readings_channel"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantined_readings")),
    )
    with op.batch_alter_table("quarantined_readings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_quarantined_readings_received", ["received_at", "id"], unique=False
        )

    op.create_table(
        "device_bindings",
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bound_by", sa.String(length=64), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=64), nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_device_bindings_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["treatment_sessions.id"],
            name=op.f("fk_device_bindings_session_id_treatment_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_bindings")),
    )
    with op.batch_alter_table("device_bindings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_device_bindings_device_bound", ["device_id", "bound_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_device_bindings_session_id"), ["session_id"], unique=False
        )
        batch_op.create_index(
            "uq_device_bindings_open_device",
            ["device_id"],
            unique=True,
            sqlite_where=sa.text("released_at IS NULL"),
            postgresql_where=sa.text("released_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("device_bindings", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_device_bindings_open_device",
            sqlite_where=sa.text("released_at IS NULL"),
            postgresql_where=sa.text("released_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_device_bindings_session_id"))
        batch_op.drop_index("ix_device_bindings_device_bound")

    op.drop_table("device_bindings")
    with op.batch_alter_table("quarantined_readings", schema=None) as batch_op:
        batch_op.drop_index("ix_quarantined_readings_received")

    op.drop_table("quarantined_readings")
    with op.batch_alter_table("live_events", schema=None) as batch_op:
        batch_op.drop_index("ix_live_events_session_id_id")

    op.drop_table("live_events")
    op.drop_table("hl7_messages")
    op.drop_table("devices")
