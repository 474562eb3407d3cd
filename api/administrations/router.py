from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, status

from api.administrations import service
from api.administrations.schemas import (
    RETRACT_EXAMPLES,
    AdministrationCreate,
    AdministrationList,
    AdministrationRead,
    WitnessAttest,
    WitnessRequest,
)
from api.audit import AuditDep
from api.db import DbSession
from api.deps import ClinicTz
from api.openapi import PROBLEMS, problems
from api.pagination import Cursor, Limit
from api.people import validate_named
from api.vitals.schemas import RetractRequest

router = APIRouter(
    prefix="/v1/sessions/{session_id}/administrations",
    tags=["administrations"],
    responses=PROBLEMS,
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AdministrationRead,
    summary="Record a dose given (and any waste, with its witness)",
    description=(
        "409 when the session is not dosing or monitoring (a dose follows the dosing "
        "transition and its pre-dose gate), when medication or route differ from the session's "
        "plan revision, or when the session total would exceed the planned dose without "
        "`override_reason` (a clinician's; a nurse's override is 403). 422 for a dose started "
        "outside the session's dosing window, esketamine doses that are not whole 28 mg "
        "devices, amounts that do not add up (what was drawn and not given must be recorded "
        "as witnessed waste), lots expired on the clinic's date, and waste without a witness "
        "who is another nurse or clinician."
    ),
    responses=problems(403, 404, 409),
)
async def record_administration(
    session_id: str, body: AdministrationCreate, db: DbSession, audit: AuditDep, tz: ClinicTz
) -> AdministrationRead:
    row = await service.record_administration(db, audit, session_id, body, clinic_tz=tz)
    return await validate_named(db, AdministrationRead, row)


@router.get(
    "",
    response_model=AdministrationList,
    summary="Doses given in a session, in order, with the total against the planned dose",
    description=(
        "Retracted doses are left out unless `include_retracted=true`; `total_given_mg` never "
        "counts them."
    ),
    responses=problems(404),
)
async def list_administrations(
    session_id: str,
    db: DbSession,
    audit: AuditDep,
    include_retracted: bool = False,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AdministrationList:
    page = await service.list_administrations(
        db, audit, session_id, include_retracted=include_retracted, limit=limit, cursor=cursor
    )
    return AdministrationList.model_validate(page)


@router.post(
    "/{administration_id}/retract",
    response_model=AdministrationRead,
    summary="Retract a dose (entered-in-error); it stays on record and in the controlled log",
    description=(
        "The dose no longer counts toward the session's total given (so the planned-dose "
        "ceiling and the REMS form leave it out); the controlled-substance log still lists it, "
        "with its status and who retracted it, when and why. Already retracted: 409."
    ),
    responses=problems(404, 409),
)
async def retract(
    session_id: str,
    administration_id: str,
    body: Annotated[RetractRequest, Body(openapi_examples=RETRACT_EXAMPLES)],
    db: DbSession,
    audit: AuditDep,
) -> AdministrationRead:
    row = await service.retract_administration(
        db, audit, session_id, administration_id, body.reason
    )
    return await validate_named(db, AdministrationRead, row)


@router.post(
    "/{administration_id}/witness",
    response_model=AdministrationRead,
    summary="The named witness confirms the waste, signed in as themselves",
    description=(
        '`{"attest": true}` from the person named as the waste\'s witness: `witness_status` '
        "becomes `witnessed` with `witnessed_at`. Anyone else: 403. Already witnessed, no "
        "waste, or a retracted dose: 409."
    ),
    responses=problems(403, 404, 409),
)
async def confirm_witness(
    session_id: str,
    administration_id: str,
    body: WitnessAttest,
    db: DbSession,
    audit: AuditDep,
    tz: ClinicTz,
) -> AdministrationRead:
    row = await service.confirm_witness(db, audit, session_id, administration_id, clinic_tz=tz)
    return await validate_named(db, AdministrationRead, row)


@router.put(
    "/{administration_id}/witness-request",
    response_model=AdministrationRead,
    summary="Name another witness for waste still pending (the person who gave the dose)",
    description=(
        "`witness`: the id or username of another active nurse or clinician (422 otherwise). "
        "Only the person who gave the dose (403 otherwise), only while the waste is pending "
        "(409 otherwise)."
    ),
    responses=problems(403, 404, 409),
)
async def request_witness(
    session_id: str,
    administration_id: str,
    body: WitnessRequest,
    db: DbSession,
    audit: AuditDep,
    tz: ClinicTz,
) -> AdministrationRead:
    row = await service.request_witness(
        db, audit, session_id, administration_id, body.witness, clinic_tz=tz
    )
    return await validate_named(db, AdministrationRead, row)
