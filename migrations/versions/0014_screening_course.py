"""screening, medication lists, checklists, adverse events, other medications, REMS
submissions, follow-ups; alerts and assessments of a patient between sessions

SPEC §11/§12 (2026-12-01): a patient is screened before a plan or a dose; the pre-session and
discharge checklists gate dosing and discharge; adverse events and other medications given are
part of the session record; REMS forms are filed; assessments taken between sessions (no
session) feed the course and may raise a patient-level alert.

Existing data stays readable: every new table starts empty; ``alerts.patient_id`` and
``assessments.patient_id`` are filled from their sessions before they become NOT NULL;
``alerts.session_id`` and ``assessments.session_id`` become nullable (every existing row keeps
its session). A patient without a
screening gets ``screening_required`` at their next plan or dose (README upgrade notes).

Revision ID: 0014_screening_course
Revises: 0008_session_gates
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_screening_course"
down_revision: str | None = "0008_session_gates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)
_RETRACT_CHECK = "status IN ('final', 'entered-in-error')"
_OLD_SOURCE = "(observation_id IS NULL) <> (assessment_id IS NULL)"
_NEW_SOURCE = (
    "(CASE WHEN observation_id IS NULL THEN 0 ELSE 1 END"
    " + CASE WHEN assessment_id IS NULL THEN 0 ELSE 1 END"
    " + CASE WHEN adverse_event_id IS NULL THEN 0 ELSE 1 END) = 1"
)
_AE_KINDS = [
    "nausea",
    "vomiting",
    "headache",
    "dizziness",
    "hypertension",
    "hypotension",
    "tachycardia",
    "bradycardia",
    "respiratory_depression",
    "oxygen_desaturation",
    "excessive_sedation",
    "dissociation_distress",
    "emergence_reaction",
    "anxiety_agitation",
    "allergic_reaction",
    "other",
]


def _sql_list(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _retractable() -> list[sa.Column[object]]:
    return [
        sa.Column("status", sa.String(length=24), server_default="final", nullable=False),
        sa.Column("retracted_at", _TS, nullable=True),
        sa.Column("retracted_by", sa.String(length=64), nullable=True),
        sa.Column("retraction_reason", sa.Text(), nullable=True),
    ]


def _defer_foreign_keys() -> None:
    """SQLite rebuilds a table to change it (batch mode): dropping the old copy of a table that
    other rows reference would break their foreign keys for a moment. Deferred, they are checked
    at commit, when the rebuilt table holds the same ids again."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("PRAGMA defer_foreign_keys = ON")


def upgrade() -> None:
    _defer_foreign_keys()
    op.create_table(
        "screenings",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("screened_at", _TS, nullable=False),
        sa.Column("indication", sa.String(length=16), nullable=False),
        sa.Column("diagnoses", sa.JSON(), nullable=False),
        sa.Column("prior_treatments", sa.JSON(), nullable=False),
        sa.Column("failed_adequate_antidepressant_trials", sa.Integer(), nullable=False),
        sa.Column("meets_trd_criterion", sa.Boolean(), nullable=False),
        sa.Column("contraindications", sa.JSON(), nullable=False),
        sa.Column("childbearing_potential", sa.Boolean(), nullable=False),
        sa.Column("baseline", sa.JSON(), nullable=False),
        sa.Column("consent_signed_at", _TS, nullable=False),
        sa.Column("consent_document_version", sa.String(length=64), nullable=False),
        sa.Column("rems_enrolled_at", _TS, nullable=True),
        sa.Column("rems_reference", sa.String(length=128), nullable=True),
        sa.Column("decision", sa.String(length=32), nullable=False),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", _TS, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "decision IN ('eligible', 'eligible_with_precautions', 'not_eligible')",
            name=op.f("ck_screenings_decision"),
        ),
        sa.CheckConstraint(
            "decision = 'eligible' OR decision_reason IS NOT NULL",
            name=op.f("ck_screenings_decision_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_screenings_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screenings")),
    )
    with op.batch_alter_table("screenings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_screenings_patient_screened", ["patient_id", "screened_at"], unique=False
        )

    op.create_table(
        "medication_list_versions",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", _TS, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_medication_list_versions_patient_id_patients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medication_list_versions")),
        sa.UniqueConstraint(
            "patient_id", "version", name=op.f("uq_medication_list_versions_patient_id_version")
        ),
    )

    op.create_table(
        "session_checklists",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", _TS, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("kind IN ('pre', 'discharge')", name=op.f("ck_session_checklists_kind")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["treatment_sessions.id"],
            name=op.f("fk_session_checklists_session_id_treatment_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_checklists")),
        sa.UniqueConstraint(
            "session_id", "kind", name=op.f("uq_session_checklists_session_id_kind")
        ),
    )

    op.create_table(
        "adverse_events",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("onset_at", _TS, nullable=False),
        sa.Column("resolved_at", _TS, nullable=True),
        sa.Column("action_taken", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", _TS, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        *_retractable(),
        sa.CheckConstraint(
            f"kind IN ({_sql_list(_AE_KINDS)})", name=op.f("ck_adverse_events_kind")
        ),
        sa.CheckConstraint(
            "severity IN ('mild', 'moderate', 'severe', 'life_threatening')",
            name=op.f("ck_adverse_events_severity"),
        ),
        sa.CheckConstraint(
            "kind <> 'other' OR note IS NOT NULL", name=op.f("ck_adverse_events_other_needs_note")
        ),
        sa.CheckConstraint(_RETRACT_CHECK, name=op.f("ck_adverse_events_status")),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_adverse_events_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["treatment_sessions.id"],
            name=op.f("fk_adverse_events_session_id_treatment_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adverse_events")),
    )
    with op.batch_alter_table("adverse_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_adverse_events_session_onset", ["session_id", "onset_at"], unique=False
        )
        batch_op.create_index(
            "ix_adverse_events_patient_onset", ["patient_id", "onset_at"], unique=False
        )

    op.create_table(
        "session_medications",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("dose", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("route", sa.String(length=64), nullable=False),
        sa.Column("given_at", _TS, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("controlled_schedule", sa.String(length=4), nullable=True),
        sa.Column("lot_number", sa.String(length=64), nullable=True),
        sa.Column("recorded_by", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", _TS, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        *_retractable(),
        sa.CheckConstraint(
            "controlled_schedule IS NULL OR controlled_schedule IN ('II', 'III', 'IV', 'V')",
            name=op.f("ck_session_medications_controlled_schedule"),
        ),
        sa.CheckConstraint("dose > 0", name=op.f("ck_session_medications_dose_positive")),
        sa.CheckConstraint(_RETRACT_CHECK, name=op.f("ck_session_medications_status")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["treatment_sessions.id"],
            name=op.f("fk_session_medications_session_id_treatment_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_medications")),
    )
    with op.batch_alter_table("session_medications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_session_medications_session_given", ["session_id", "given_at"], unique=False
        )

    op.create_table(
        "rems_submissions",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("submitted_at", _TS, nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("form_version", sa.String(length=64), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", _TS, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["treatment_sessions.id"],
            name=op.f("fk_rems_submissions_session_id_treatment_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rems_submissions")),
        sa.UniqueConstraint("session_id", name=op.f("uq_rems_submissions_session_id")),
    )

    op.create_table(
        "follow_ups",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("contacted_at", _TS, nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", _TS, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "method IN ('phone', 'sms', 'video', 'in_person')", name=op.f("ck_follow_ups_method")
        ),
        sa.CheckConstraint(
            "outcome IN ('well', 'concern', 'no_answer')", name=op.f("ck_follow_ups_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["treatment_sessions.id"],
            name=op.f("fk_follow_ups_session_id_treatment_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_ups")),
    )
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_follow_ups_session_contacted", ["session_id", "contacted_at"], unique=False
        )

    # assessments: a patient of their own, and no session for one taken between sessions
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("patient_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("source", sa.String(length=20), nullable=True))
    op.execute(
        "UPDATE assessments SET patient_id = (SELECT treatment_sessions.patient_id FROM "
        "treatment_sessions WHERE treatment_sessions.id = assessments.session_id)"
    )
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.alter_column("patient_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.alter_column("session_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.create_foreign_key(
            op.f("fk_assessments_patient_id_patients"), "patients", ["patient_id"], ["id"]
        )
        batch_op.create_check_constraint(
            op.f("ck_assessments_session_or_source"), "(session_id IS NULL) = (source IS NOT NULL)"
        )
        batch_op.create_check_constraint(
            op.f("ck_assessments_source"),
            "source IS NULL OR source IN ('clinic', 'phone', 'patient_reported')",
        )
        batch_op.create_index(
            "ix_assessments_patient_administered", ["patient_id", "administered_at"], unique=False
        )

    # alerts: the patient's own, and one source more (an adverse event)
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("patient_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("adverse_event_id", sa.Uuid(), nullable=True))
    op.execute(
        "UPDATE alerts SET patient_id = (SELECT treatment_sessions.patient_id FROM "
        "treatment_sessions WHERE treatment_sessions.id = alerts.session_id)"
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.alter_column("patient_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.alter_column("session_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.create_foreign_key(
            op.f("fk_alerts_patient_id_patients"), "patients", ["patient_id"], ["id"]
        )
        batch_op.create_foreign_key(
            op.f("fk_alerts_adverse_event_id_adverse_events"),
            "adverse_events",
            ["adverse_event_id"],
            ["id"],
        )
        batch_op.create_unique_constraint(op.f("uq_alerts_adverse_event_id"), ["adverse_event_id"])
        batch_op.drop_constraint(op.f("ck_alerts_exactly_one_source"), type_="check")
        batch_op.create_check_constraint(op.f("ck_alerts_exactly_one_source"), _NEW_SOURCE)
        batch_op.create_index(
            "ix_alerts_patient_created", ["patient_id", "created_at"], unique=False
        )


def downgrade() -> None:
    _defer_foreign_keys()
    # Rows that only the new schema can hold (patient-level alerts and assessments, alerts of
    # adverse events) go with it; everything else returns as it was.
    op.execute("DELETE FROM alerts WHERE session_id IS NULL OR adverse_event_id IS NOT NULL")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_patient_created")
        batch_op.drop_constraint(op.f("ck_alerts_exactly_one_source"), type_="check")
        batch_op.create_check_constraint(op.f("ck_alerts_exactly_one_source"), _OLD_SOURCE)
        batch_op.drop_constraint(op.f("uq_alerts_adverse_event_id"), type_="unique")
        batch_op.drop_constraint(
            op.f("fk_alerts_adverse_event_id_adverse_events"), type_="foreignkey"
        )
        batch_op.drop_constraint(op.f("fk_alerts_patient_id_patients"), type_="foreignkey")
        batch_op.alter_column("session_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.drop_column("adverse_event_id")
        batch_op.drop_column("patient_id")

    op.execute(
        "DELETE FROM alerts WHERE assessment_id IN "
        "(SELECT id FROM assessments WHERE session_id IS NULL)"
    )
    op.execute("DELETE FROM assessments WHERE session_id IS NULL")
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.drop_index("ix_assessments_patient_administered")
        batch_op.drop_constraint(op.f("ck_assessments_source"), type_="check")
        batch_op.drop_constraint(op.f("ck_assessments_session_or_source"), type_="check")
        batch_op.drop_constraint(op.f("fk_assessments_patient_id_patients"), type_="foreignkey")
        batch_op.alter_column("session_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.drop_column("source")
        batch_op.drop_column("patient_id")

    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.drop_index("ix_follow_ups_session_contacted")
    op.drop_table("follow_ups")
    op.drop_table("rems_submissions")
    with op.batch_alter_table("session_medications", schema=None) as batch_op:
        batch_op.drop_index("ix_session_medications_session_given")
    op.drop_table("session_medications")
    with op.batch_alter_table("adverse_events", schema=None) as batch_op:
        batch_op.drop_index("ix_adverse_events_patient_onset")
        batch_op.drop_index("ix_adverse_events_session_onset")
    op.drop_table("adverse_events")
    op.drop_table("session_checklists")
    op.drop_table("medication_list_versions")
    with op.batch_alter_table("screenings", schema=None) as batch_op:
        batch_op.drop_index("ix_screenings_patient_screened")
    op.drop_table("screenings")
