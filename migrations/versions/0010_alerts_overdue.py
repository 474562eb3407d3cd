"""alerts of every phase, vitals_overdue, and no infinite timestamps

* (``alerts.patient_id`` and the adverse-event source came with 0014, which runs first.)
* ``alerts.gap_started_at`` with UNIQUE (session_id, gap_started_at): the server raises one
  ``vitals_overdue`` per gap without a blood pressure, however many processes scan at once
  (NULLs are distinct: other alerts are not constrained).
* "exactly one source" becomes "at most one source": ``vitals_overdue`` has no reading,
  assessment or adverse event behind it.
* PostgreSQL: every ``timestamptz`` column gets ``CHECK (isfinite(col))``. A reading timed
  0001-01-01T00:00:00Z had been stored as ``-infinity`` by the driver and broke every read of
  it afterwards. A stored ±infinity is first replaced by the nearest bound Vigil accepts
  (1970-01-01 / 9999-01-01 UTC); such a reading is also retracted, since its time was never
  real. SQLite stores timestamps as text and cannot hold an infinity.

Revision ID: 0010_alerts_overdue
Revises: 0014_screening_course
"""

# Table and column names in the SQL below come from information_schema, never from input.
# ruff: noqa: S608

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_alerts_overdue"
down_revision: str | None = "0014_screening_course"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FINITE_SUFFIX = "_finite"
LOW_BOUND = "1970-01-01T00:00:00Z"
HIGH_BOUND = "9999-01-01T00:00:00Z"


def _timestamp_columns() -> list[tuple[str, str]]:
    rows = op.get_bind().execute(
        sa.text(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() "
            "AND data_type = 'timestamp with time zone' "
            "ORDER BY table_name, column_name"
        )
    )
    return [(t, c) for t, c in rows]


def finite_check_name(table: str, column: str) -> str:
    return f"ck_{table}_{column}{FINITE_SUFFIX}"[:63]


def _make_timestamps_finite() -> None:
    # Table and column names come from information_schema (this database's own), never from
    # input: the f-strings below build no injection.
    bind = op.get_bind()
    for table, column in _timestamp_columns():
        infinite = bind.execute(
            sa.text(f'SELECT count(*) FROM "{table}" WHERE NOT isfinite("{column}")')
        ).scalar_one()
        if infinite:
            if table == "observations":
                bind.execute(
                    sa.text(
                        "UPDATE observations SET status = 'entered-in-error', "
                        "retracted_at = now(), retraction_reason = "
                        "'stored with an impossible time (infinity); retracted on upgrade' "
                        f"WHERE NOT isfinite(\"{column}\") AND status = 'final'"
                    )
                )
            for value, bound in (("-infinity", LOW_BOUND), ("infinity", HIGH_BOUND)):
                bind.execute(
                    sa.text(
                        f'UPDATE "{table}" SET "{column}" = \'{bound}\'::timestamptz '
                        f"WHERE \"{column}\" = '{value}'::timestamptz"
                    )
                )
        op.create_check_constraint(
            op.f(finite_check_name(table, column)), table, f'isfinite("{column}")'
        )


# 0014 (before this one) gave alerts their patient and a third source (an adverse event), and
# "exactly one source" over the three; the server's own vitals_overdue has none of them.
_THREE_SOURCES = (
    "(CASE WHEN observation_id IS NULL THEN 0 ELSE 1 END"
    " + CASE WHEN assessment_id IS NULL THEN 0 ELSE 1 END"
    " + CASE WHEN adverse_event_id IS NULL THEN 0 ELSE 1 END)"
)


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("gap_started_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            op.f("uq_alerts_session_id_gap_started_at"), ["session_id", "gap_started_at"]
        )
        batch_op.drop_constraint(op.f("ck_alerts_exactly_one_source"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_alerts_at_most_one_source"), f"{_THREE_SOURCES} <= 1"
        )
    if op.get_bind().dialect.name == "postgresql":
        _make_timestamps_finite()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column in _timestamp_columns():
            op.execute(
                f'ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS '
                f'"{finite_check_name(table, column)}"'
            )
    # Server-raised alerts have no source: they cannot satisfy "exactly one source".
    op.execute(
        "DELETE FROM alerts WHERE observation_id IS NULL AND assessment_id IS NULL "
        "AND adverse_event_id IS NULL"
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_alerts_at_most_one_source"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_alerts_exactly_one_source"), f"{_THREE_SOURCES} = 1"
        )
        batch_op.drop_constraint(op.f("uq_alerts_session_id_gap_started_at"), type_="unique")
        batch_op.drop_column("gap_started_at")
