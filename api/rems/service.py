"""The Spravato REMS Patient Monitoring Form, assembled from the session record (SPEC §6).

The assembly rules are in :mod:`api.clinical.rems`; this loads what it needs.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.administrations.service import administrations_for_session
from api.alerts.service import alert_kinds_for_session
from api.assessments.service import cadss_totals_for_session, sedation_scores_for_session
from api.audit import Audit
from api.clinical.gates import Unmet
from api.clinical.rems import assemble_rems_form
from api.errors import Conflict
from api.patients.service import get_patient
from api.sessions import gates
from api.sessions.service import get_session, session_record, session_revision
from models import SessionTransition, TreatmentSession

VITAL_CODES = frozenset(
    {"missing_reading", "stale_reading", "above_limit", "below_limit", "not_near_baseline"}
)


def _vitals_ok(unmet: list[Unmet]) -> bool:
    return not any(u.code in VITAL_CODES for u in unmet)


async def _acceptable_at_transition(
    db: AsyncSession, session: TreatmentSession, to_status: str, gate: str
) -> bool | None:
    """True when the gate's vital items were met when the session moved to ``to_status``
    without an override; False when a vital item went ahead unmet (overridden, or a discharge
    against advice); None (for the clinician to answer) otherwise."""
    transition = await db.scalar(
        select(SessionTransition).where(
            SessionTransition.session_id == session.id, SessionTransition.to_status == to_status
        )
    )
    if transition is None:
        return None
    # A vital item a clinician overrode, or one unmet at a discharge against advice: "no".
    went_ahead = [*(transition.overridden or []), *(transition.unmet or [])]
    if any(item.get("code") in VITAL_CODES for item in went_ahead):
        return False
    revision = await session_revision(db, session)
    if gate == "predose":
        unmet = await gates.predose_unmet(db, session, revision, transition.at)
    else:
        unmet = await gates.discharge_unmet(db, session, revision, transition.at)
    return True if _vitals_ok(unmet) else None


async def rems_form(
    db: AsyncSession, audit: Audit, session_id: str, *, clinic_tz: tzinfo
) -> dict[str, Any]:
    session = await get_session(db, session_id)
    revision = await session_revision(db, session)
    if revision.medication != "esketamine":
        raise Conflict(
            "The Spravato REMS Patient Monitoring Form applies to esketamine sessions; this "
            f"session's plan is {revision.medication}.",
            medication=revision.medication,
        )
    patient = await get_patient(db, session.patient_id)
    record = await session_record(db, session)
    form = assemble_rems_form(
        patient={
            "first_name": patient.given_name,
            "last_name": patient.family_name,
            "birth_date": patient.birth_date,
            "sex": patient.sex,
        },
        session={"dosing_started_at": session.dosing_started_at, "ended_at": session.ended_at},
        administrations=await administrations_for_session(db, session.id, include_retracted=False),
        vitals_summary=record["vitals_summary"],
        sedation_scores=await sedation_scores_for_session(db, session.id),
        cadss_totals=await cadss_totals_for_session(db, session.id),
        alert_kinds=await alert_kinds_for_session(db, session.id),
        vitals_acceptable_before_dosing=await _acceptable_at_transition(
            db, session, "dosing", "predose"
        ),
        vitals_acceptable_before_completion=await _acceptable_at_transition(
            db, session, "discharged", "discharge"
        ),
        clinic_tz=clinic_tz,
    )
    audit.record("read", "rems_form", session.id, patient_id=session.patient_id)
    return {"session_id": session.id, "patient_id": patient.id, **form}
