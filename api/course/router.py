from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from api.assessments import service as assessments
from api.assessments.schemas import AssessmentRead, PatientAssessmentCreate
from api.audit import AuditDep
from api.course import service
from api.db import DbSession
from api.openapi import PROBLEMS, problems

router = APIRouter(prefix="/v1/patients/{patient_id}", tags=["course"], responses=PROBLEMS)


@router.get(
    "/course",
    summary="The treatment course of each plan: sessions, dose, scores, response, remission",
    description=(
        "Per plan: sessions dosed / cancelled, first and last dosed, the next scheduled, days "
        "since the last dose, total mg given, `behind` (sessions left but none scheduled), and "
        "per instrument the baseline (the screening's, else the first score before the first "
        "dose), the latest score, percent change, response (≥50% drop; Y-BOCS 35%) and "
        "remission (MADRS ≤ 10, PHQ-9 < 5, GAD-7 < 5)."
    ),
    responses=problems(404),
)
async def course(patient_id: str, db: DbSession, audit: AuditDep) -> Any:
    return await service.patient_course(db, audit, patient_id)


@router.post(
    "/assessments",
    status_code=status.HTTP_201_CREATED,
    response_model=AssessmentRead,
    summary="Record an assessment between sessions (clinic, phone or patient-reported)",
    description="PHQ-9 item 9 above 0 raises a critical alert of the patient (no session).",
    responses=problems(404, 422),
)
async def record(
    patient_id: str, body: PatientAssessmentCreate, db: DbSession, audit: AuditDep
) -> Any:
    return await assessments.record_patient_assessment(
        db,
        audit,
        patient_id,
        instrument=body.instrument,
        items=body.items,
        score=body.score,
        administered_at=body.administered_at,
        source=body.source,
    )
