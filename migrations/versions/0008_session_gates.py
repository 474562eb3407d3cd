"""session gates: frozen baseline, discharge type, one open session, course fields

* ``treatment_sessions`` gains the pre-dose baseline frozen at the dosing transition
  (``baseline_systolic_bp``, ``baseline_diastolic_bp``, ``baseline_heart_rate``; sessions that
  already started dosing get the reading that counted then, computed from their readings),
  ``discharge_type`` (``regular`` | ``against_advice``) and ``responsible_clinician_id`` (a user id,
  as ``created_by`` is); and a
  partial unique index: a patient has at most one open (checked-in, dosing, monitoring)
  session. The upgrade stops, naming them, if a patient has two open sessions now.
* ``session_transitions`` gains ``unmet``: the items unmet when a discharge against advice
  went ahead.
* ``dosing_plan_revisions`` gains ``course_phase`` (existing revisions: ``induction``) and
  ``min_interval_hours`` (none).

Sessions keep the revision they pinned: those already checked in keep it, those only scheduled
re-pin at check-in (the application does that), so no row changes revision here (SPEC §10).

The columns are added in place on both databases: SQLite cannot add a CHECK constraint (or
rebuild a table other tables reference, with foreign keys on) without copying it, so the two
CHECK constraints exist on PostgreSQL only; the API accepts only their values.

Revision ID: 0008_session_gates
Revises: 0009_dosing_limits_waste
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0008_session_gates"
down_revision: str | None = "0009_dosing_limits_waste"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN_SQL = "status IN ('checked_in', 'dosing', 'monitoring')"
_INDEX = "uq_treatment_sessions_one_open_per_patient"
_BASELINE = {
    "systolic_bp": "baseline_systolic_bp",
    "diastolic_bp": "baseline_diastolic_bp",
    "heart_rate": "baseline_heart_rate",
}
_PREDOSE_WINDOW = timedelta(minutes=30)


def _is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _refuse_two_open_sessions() -> None:
    rows = op.get_bind().execute(
        sa.text(
            "SELECT patient_id, count(*) FROM treatment_sessions "
            "WHERE status IN ('checked_in', 'dosing', 'monitoring') "
            "GROUP BY patient_id HAVING count(*) > 1"
        )
    )
    twice = [str(r[0]) for r in rows]
    if twice:
        raise RuntimeError(
            "These patients have more than one open session (checked_in, dosing or "
            f"monitoring): {', '.join(twice)}. End all but one of each (discharge, transfer "
            "or cancel) and run the upgrade again."
        )


def _freeze_baselines() -> None:
    """Sessions that already started dosing: the reading of each baseline vital that counted
    at their dosing start (the most recent final one in the 30 minutes before it)."""
    bind = op.get_bind()
    observations = sa.table(
        "observations",
        sa.column("session_id", sa.Uuid()),
        sa.column("code", sa.String()),
        sa.column("value", sa.Float()),
        sa.column("status", sa.String()),
        sa.column("measured_at", sa.DateTime(timezone=True)),
        sa.column("recorded_at", sa.DateTime(timezone=True)),
    )
    sessions_table = sa.table(
        "treatment_sessions",
        sa.column("id", sa.Uuid()),
        sa.column("dosing_started_at", sa.DateTime(timezone=True)),
        *(sa.column(c, sa.Float()) for c in _BASELINE.values()),
    )
    sessions = bind.execute(
        sa.select(sessions_table.c.id, sessions_table.c.dosing_started_at).where(
            sessions_table.c.dosing_started_at.is_not(None)
        )
    ).all()
    for session_id, started in sessions:
        started_at = _aware(started)  # SQLite hands back naive UTC
        sid = session_id
        values: dict[str, float] = {}
        for code, column in _BASELINE.items():
            value = bind.execute(
                sa.select(observations.c.value)
                .where(
                    observations.c.session_id == sa.bindparam("sid", sid, type_=sa.Uuid()),
                    observations.c.code == code,
                    observations.c.status == "final",
                    observations.c.measured_at <= started_at,
                    observations.c.measured_at >= started_at - _PREDOSE_WINDOW,
                )
                .order_by(observations.c.measured_at.desc(), observations.c.recorded_at.desc())
                .limit(1)
            ).scalar()
            if value is not None:
                values[column] = float(value)
        if values:
            bind.execute(
                sessions_table.update()
                .where(sessions_table.c.id == sa.bindparam("sid", sid, type_=sa.Uuid()))
                .values(**values)
            )


def upgrade() -> None:
    _refuse_two_open_sessions()
    for column in _BASELINE.values():
        op.add_column("treatment_sessions", sa.Column(column, sa.Float(), nullable=True))
    op.add_column(
        "treatment_sessions", sa.Column("discharge_type", sa.String(length=16), nullable=True)
    )
    op.add_column(
        "treatment_sessions",
        sa.Column("responsible_clinician_id", sa.String(length=64), nullable=True),
    )
    op.create_index(
        _INDEX,
        "treatment_sessions",
        ["patient_id"],
        unique=True,
        sqlite_where=sa.text(_OPEN_SQL),
        postgresql_where=sa.text(_OPEN_SQL),
    )
    op.add_column("session_transitions", sa.Column("unmet", sa.JSON(), nullable=True))
    op.add_column(
        "dosing_plan_revisions",
        sa.Column("course_phase", sa.String(length=16), server_default="induction", nullable=False),
    )
    op.add_column(
        "dosing_plan_revisions", sa.Column("min_interval_hours", sa.Float(), nullable=True)
    )
    if _is_postgres():
        op.create_check_constraint(
            op.f("ck_treatment_sessions_discharge_type"),
            "treatment_sessions",
            "discharge_type IS NULL OR discharge_type IN ('regular', 'against_advice')",
        )
        op.create_check_constraint(
            op.f("ck_dosing_plan_revisions_course_phase"),
            "dosing_plan_revisions",
            "course_phase IN ('induction', 'maintenance')",
        )
    _freeze_baselines()


def downgrade() -> None:
    if _is_postgres():
        op.drop_constraint(
            op.f("ck_dosing_plan_revisions_course_phase"), "dosing_plan_revisions", type_="check"
        )
        op.drop_constraint(
            op.f("ck_treatment_sessions_discharge_type"), "treatment_sessions", type_="check"
        )
    with op.batch_alter_table("dosing_plan_revisions", recreate="never") as batch_op:
        batch_op.drop_column("min_interval_hours")
        batch_op.drop_column("course_phase")
    with op.batch_alter_table("session_transitions", recreate="never") as batch_op:
        batch_op.drop_column("unmet")
    op.drop_index(_INDEX, table_name="treatment_sessions")
    with op.batch_alter_table("treatment_sessions", recreate="never") as batch_op:
        batch_op.drop_column("responsible_clinician_id")
        batch_op.drop_column("discharge_type")
        for column in reversed(_BASELINE.values()):
            batch_op.drop_column(column)
