"""dose limits, basis weight never above actual, witnessed waste, patients' address

* ``dosing_plan_revisions`` gain ``above_usual_reason`` and ``thresholds_reason`` (SPEC §3, §5):
  the reasons a prescriber gives for a dose above the usual range and for limits looser than the
  clinic's. Revisions written before keep working: they are not re-validated.
* ``treatment_sessions`` gain ``basis_limited_to_actual`` (SPEC §3): an ideal or adjusted basis
  weight above the day's weight was replaced by the actual weight. Existing sessions read false.
* ``administrations`` gain ``ndc``, ``container`` and the witness's confirmation
  (``witness_status`` ``pending`` | ``witnessed`` | ``not_confirmed``, ``witnessed_at``; SPEC §6).
  Waste recorded before this revision was never confirmed by its witness: it reads
  ``not_confirmed`` (it blocks nothing). A record with waste always has a witness status.
* ``patients`` gain an optional ``address`` (SPEC §9; the controlled-substance log names it).

SQLite cannot add a CHECK constraint in place, so the batch mode rebuilds ``administrations``
there; PostgreSQL alters it in place. The other columns are added and dropped in place.

Revision ID: 0009_dosing_limits_waste
Revises: 0015_stream_tickets
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_dosing_limits_waste"
down_revision: str | None = "0015_stream_tickets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WITNESS_STATUS_CHECK = (
    "witness_status IS NULL OR witness_status IN ('pending', 'witnessed', 'not_confirmed')"
)
WASTE_HAS_STATUS_CHECK = "wasted_mg IS NULL OR wasted_mg = 0 OR witness_status IS NOT NULL"
WITNESSED_AT_CHECK = (
    "(witness_status IS NOT NULL AND witness_status = 'witnessed' AND witnessed_at IS NOT NULL)"
    " OR (witnessed_at IS NULL AND (witness_status IS NULL OR witness_status <> 'witnessed'))"
)


def upgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(length=500), nullable=True))

    with op.batch_alter_table("dosing_plan_revisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("above_usual_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("thresholds_reason", sa.Text(), nullable=True))

    with op.batch_alter_table("treatment_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "basis_limited_to_actual",
                sa.Boolean(),
                server_default="0",  # a string: SQLite adds it in place
                nullable=False,
            )
        )

    with op.batch_alter_table("administrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ndc", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("container", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("witness_status", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("witnessed_at", sa.DateTime(timezone=True), nullable=True))

    # Waste recorded before this rule: its witness never confirmed it.
    op.execute(
        "UPDATE administrations SET witness_status = 'not_confirmed' "
        "WHERE wasted_mg IS NOT NULL AND wasted_mg > 0"
    )

    with op.batch_alter_table("administrations", schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f("ck_administrations_witness_status"), WITNESS_STATUS_CHECK
        )
        batch_op.create_check_constraint(
            op.f("ck_administrations_waste_has_witness_status"), WASTE_HAS_STATUS_CHECK
        )
        batch_op.create_check_constraint(
            op.f("ck_administrations_witnessed_at"), WITNESSED_AT_CHECK
        )


def downgrade() -> None:
    with op.batch_alter_table("administrations", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_administrations_witnessed_at"), type_="check")
        batch_op.drop_constraint(op.f("ck_administrations_waste_has_witness_status"), type_="check")
        batch_op.drop_constraint(op.f("ck_administrations_witness_status"), type_="check")
        batch_op.drop_column("witnessed_at")
        batch_op.drop_column("witness_status")
        batch_op.drop_column("container")
        batch_op.drop_column("ndc")

    # Other tables' foreign keys point at these three: a batch rebuild would drop them on
    # SQLite, so the columns are dropped in place (SQLite 3.35+ and PostgreSQL alike).
    for table, column in (
        ("treatment_sessions", "basis_limited_to_actual"),
        ("dosing_plan_revisions", "thresholds_reason"),
        ("dosing_plan_revisions", "above_usual_reason"),
        ("patients", "address"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
