"""Parts of the session record owned by other domains (administrations, alerts).

The record shows every administration, retracted ones too (with their status): it is the
whole history of the session.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models import TreatmentSession


async def extra_record_parts(db: AsyncSession, session: TreatmentSession) -> dict[str, Any]:
    from api.administrations.schemas import AdministrationRead
    from api.administrations.service import administrations_for_session
    from api.adverse_events.service import adverse_event_dict, adverse_events_for_session
    from api.alerts.overdue import vitals_due_at
    from api.alerts.service import alert_counts_for_session
    from api.checklists.service import checklists_for_record
    from api.people import add_names
    from api.session_medications.service import medication_dict, medications_for_session

    administrations = await add_names(
        db,
        [
            AdministrationRead.model_validate(a).model_dump()
            for a in await administrations_for_session(db, session.id, include_retracted=True)
        ],
    )
    return {
        "administrations": administrations,
        "alert_counts": await alert_counts_for_session(db, session.id),
        "vitals_due_at": await vitals_due_at(db, session),
        **await checklists_for_record(db, session.id),
        "adverse_events": [
            adverse_event_dict(a) for a in await adverse_events_for_session(db, session.id)
        ],
        "other_medications": [
            medication_dict(m) for m in await medications_for_session(db, session.id)
        ],
    }
