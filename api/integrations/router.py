from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from api.audit import AuditDep
from api.db import DbSession
from api.integrations import hl7_service, service
from api.integrations.schemas import ObservationPush, PushResult, QuarantineRead
from api.openapi import PROBLEMS, problems
from api.pagination import Cursor, Limit, Page
from api.readings.check import check_batch_size

router = APIRouter(prefix="/v1/integrations", tags=["integrations"], responses=PROBLEMS)

_HL7_EXAMPLE = (
    "MSH|^~\\&|MINDRAY_VS900^00A0370098006640^EUI-64|CLINIC|||20261201140200-0500||"
    "ORU^R01^ORU_R01|MSG00042|P|2.6|||AL|NE||UNICODE UTF-8|||"
    "IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO\r"
    "PID|||A-10023^^^CLINIC^MR||Ruiz^Ana\r"
    "OBR|1|||182777000^monitoring of patient^SNOMED-CT|||20261201140200-0500\r"
    "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|98|262688^MDC_DIM_PERCENT^MDC|||||R|||"
    "20261201140200-0500||||00A0370098006640^^00A0370098006640^EUI-64\r"
)


@router.post(
    "/observations",
    response_model=PushResult,
    summary="Device push: readings routed to sessions through device bindings",
    description=(
        "Each reading goes to the session its device is bound to at its `measured_at`. The "
        "answer is per item: `accepted`, `duplicate` (its `external_id`, or without one its "
        "device, code and `measured_at`, was already received from this source) or `rejected` "
        "with a `reason` (`not_routable` when no session takes it, whatever the cause). "
        "Rejected items are quarantined with what was sent "
        "(`GET /v1/integrations/quarantine`), so nothing is silently lost."
    ),
)
async def push_observations(body: ObservationPush, db: DbSession, audit: AuditDep) -> PushResult:
    check_batch_size(len(body.observations))
    result = await service.push_observations(db, audit, body.device, body.observations)
    return PushResult.model_validate(result)


@router.post(
    "/hl7v2",
    summary="HL7 v2 ORU^R01 (IHE PCD-01) from a monitor or gateway; answers an HL7 ACK",
    description=(
        "Body: one ER7 message (`application/hl7-v2`, `x-application/hl7-v2+er7` or "
        "`text/plain`; CR, LF or CRLF between segments; MLLP framing bytes tolerated). Always "
        "200 with an ACK in the request's media type: `MSA|AA` (everything stored or skipped by "
        "design), `AE` (some rows rejected: reasons in ERR, the rows quarantined) or `AR` "
        "(not an ORU^R01). A repeated MSH-10 from the same sender gets the original ACK and "
        "stores nothing. A training message (MSH-11 `T`) is answered `AA` and stores nothing. "
        "The ACK is written in the message's MSH-18 character set (ASCII when absent, with HL7 "
        "escapes such as `\\X00FC\\` for what it cannot hold). A reading that cannot be "
        "routed is `not_routable`, whatever the reason; the quarantine has the detail."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/hl7-v2": {"schema": {"type": "string"}, "example": _HL7_EXAMPLE},
                "x-application/hl7-v2+er7": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        }
    },
    responses={
        200: {
            "description": "The HL7 ACK, in the media type the message came in",
            "content": {
                "application/hl7-v2": {"schema": {"type": "string"}},
                "x-application/hl7-v2+er7": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        }
    },
)
async def receive_hl7v2(request: Request, db: DbSession, audit: AuditDep) -> Response:
    raw = await request.body()
    tz = hl7_service.clinic_timezone(request.app.state.settings.clinic_tz)
    result = await hl7_service.process_message(db, audit, raw, clinic_tz=tz)
    return Response(
        content=result.ack_bytes,
        media_type=hl7_service.ack_media_type(request.headers.get("content-type"), result.charset),
        headers={"X-HL7-Ack-Code": result.ack_code},
    )


@router.get(
    "/quarantine",
    response_model=Page[QuarantineRead],
    summary="Readings and messages that could not be stored (admin), newest first",
    responses=problems(422),
)
async def list_quarantine(
    db: DbSession,
    audit: AuditDep,
    channel: Literal["observations", "hl7v2", "fhir"] | None = None,
    device: Annotated[str | None, Query(max_length=64)] = None,
    reason: Annotated[str | None, Query(max_length=40)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[QuarantineRead]:
    rows, next_cursor = await service.list_quarantine(
        db, audit, channel=channel, device=device, reason=reason, limit=limit, cursor=cursor
    )
    return Page(items=[QuarantineRead.model_validate(r) for r in rows], next_cursor=next_cursor)
