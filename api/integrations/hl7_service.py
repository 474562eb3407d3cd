"""Processing one HL7 v2 ORU^R01 (IHE PCD-01) message: the same for HTTP and MLLP.

1. Parse (pure translator). Garbage or the wrong message type: ``AR``, the message is kept in
   the quarantine, nothing else happens.
2. Claim (sender, MSH-10) in ``hl7_messages`` (unique constraint, ON CONFLICT DO NOTHING). If
   another request already holds it, the database makes us wait for it; then its stored ACK is
   the answer and nothing is stored (a retry of a message already processed).
3. Route each reading (device binding at its time, else PID-3 MRN -> the patient's session
   that is checked in and not ended) and store through the shared ingest path; rejected rows
   are quarantined with their OBX text.
4. ACK: ``AA`` when everything was stored or skipped by design, ``AE`` (reasons in ERR) when
   some rows were rejected. The ACK is stored with the claim. Routing misses are told to the
   sender only as ``not_routable`` (nothing about whether a patient, MRN or session exists);
   the quarantine keeps the detail.

A training message (MSH-11 ``T``) is answered ``AA`` and stores nothing (not even its claim).
Every answer is written in the sender's MSH-18 character set (ASCII when it declares none),
with HL7 escapes for what that set cannot hold.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import Audit
from api.deps import app_settings
from api.devices.service import (
    DeviceRoutes,
    Miss,
    find_device,
    load_routes,
    normalize_identifier,
    patient_session_at,
)
from api.integrations.hl7v2 import (
    ASCII,
    ERR_DATA_TYPE,
    ERR_REQUIRED_FIELD_MISSING,
    ERR_TABLE_VALUE_NOT_FOUND,
    Charset,
    DeviceReading,
    Hl7Error,
    ParsedOru,
    build_ack,
    declared_charset,
    encode_message,
    parse_oru,
    strip_mllp,
)
from api.integrations.ingest import (
    EXTERNAL_ID_CONFLICT,
    Outcome,
    Quarantine,
    Routed,
    for_the_sender,
    store_routed,
)
from api.patients.mrn import mrn_key
from api.readings.check import ReadingInput
from api.vitals.identity import device_reading_identity, reading_identity
from models import Hl7Message, Patient, TreatmentSession

ERR_UNKNOWN_KEY = "204"  # HL7 table 0357: unknown key identifier (device / patient)
ERR_DUPLICATE_KEY = "205"  # HL7 table 0357: duplicate key identifier
_ERR_FOR_REASON = {
    "missing_value": ERR_REQUIRED_FIELD_MISSING,
    "missing_unit": ERR_REQUIRED_FIELD_MISSING,
    "missing_time": ERR_REQUIRED_FIELD_MISSING,
    "missing_status": ERR_REQUIRED_FIELD_MISSING,
    "result_status": ERR_TABLE_VALUE_NOT_FOUND,
    "invalid_value": ERR_DATA_TYPE,
    "invalid_time": ERR_DATA_TYPE,
    "unit_mismatch": ERR_TABLE_VALUE_NOT_FOUND,
    "unknown_code": ERR_TABLE_VALUE_NOT_FOUND,
    EXTERNAL_ID_CONFLICT: ERR_DUPLICATE_KEY,
}
_MAX_ERR_TEXT = 2000
TRAINING = "T"  # MSH-11 processing id (HL7 table 0103): T training, P production, D debugging


@dataclass(frozen=True)
class Hl7Result:
    ack: str
    ack_code: str
    charset: Charset = ASCII  # the sender's MSH-18: what the ACK is sent in
    replayed: bool = False
    stored: int = 0
    duplicates: int = 0
    skipped: int = 0
    rejected: int = 0

    @property
    def ack_bytes(self) -> bytes:
        return encode_message(self.ack, self.charset)


def clinic_timezone(name: str) -> tzinfo:
    return ZoneInfo(name)


def reading_external_id(parsed: ParsedOru, reading: DeviceReading) -> str:
    """What identifies one device reading (DOMAIN.md: OBX-3 + OBX-18), unique per source.

    The device reading identity of :mod:`api.vitals.identity` with the MDC code (OBX-3): a
    monitor resending the last NIBP in later messages sends a duplicate, not a second reading
    with a second alert. The message (MSH-10) is not part of it; replays of a whole message are
    answered from ``hl7_messages``.

    A reading without a device EUI-64 can only be routed by PID-3, so the sender (MSH-3,
    MSH-4) and the MRN stand in for the device: two patients' readings never share an id.
    """
    if reading.device_identifier:
        device = normalize_identifier(reading.device_identifier)
        return device_reading_identity("hl7v2", device, reading.mdc_code, reading.measured_at)
    who = ["sender", parsed.sending_application, parsed.sending_facility]
    who += ["mrn", parsed.patient_mrn or ""]
    return reading_identity("hl7v2", [*who, reading.mdc_code, reading.measured_at.isoformat()])


async def process_message(
    db: AsyncSession, audit: Audit, raw: bytes | str, *, clinic_tz: tzinfo
) -> Hl7Result:
    charset = declared_charset(raw)
    text = strip_mllp(raw)
    try:
        parsed = parse_oru(
            text,
            clinic_tz=clinic_tz,
            # SPEC §1: the app's setting, an input of the pure translator
            future_tolerance_seconds=app_settings(audit.request).future_tolerance_seconds,
        )
    except Hl7Error as exc:
        quarantine = Quarantine("hl7v2", audit.actor.source, exc.control_id)
        quarantine.add(
            reason="rejected_message",
            detail=exc.text,
            raw={"message": text[:100_000]},
            device=None,
            index=None,
        )
        await quarantine.write(db)
        ack = build_ack(
            original_control_id=exc.control_id,
            sending_application=exc.sending_application,
            sending_facility=exc.sending_facility,
            ack_code=exc.ack_code,
            text=exc.text,
            err_code=exc.err_code,
            trigger_event=exc.trigger_event or "R01",
            charset=charset.msh18,
        )
        return Hl7Result(ack=ack, ack_code=exc.ack_code, charset=charset, rejected=1)

    if parsed.processing_id.upper() == TRAINING:
        # A training message: acknowledged as a real one would be, and nothing is stored.
        ack = build_ack(
            original_control_id=parsed.control_id,
            sending_application=parsed.sending_application,
            sending_facility=parsed.sending_facility,
            ack_code="AA",
            text="training message (MSH-11 T): nothing stored",
            charset=charset.msh18,
        )
        return Hl7Result(ack=ack, ack_code="AA", charset=charset)

    sender = f"{parsed.sending_application}|{parsed.sending_facility}"[:255]
    if not await _claim(db, sender, parsed.control_id[:200], audit.actor.source):
        original = await db.scalar(
            select(Hl7Message).where(
                Hl7Message.sender == sender, Hl7Message.control_id == parsed.control_id[:200]
            )
        )
        assert original is not None  # the conflicting claim has committed
        return Hl7Result(
            ack=original.ack, ack_code=original.ack_code, charset=charset, replayed=True
        )

    quarantine = Quarantine("hl7v2", audit.actor.source, parsed.control_id)
    outcomes = await _route_and_store(db, audit, parsed)
    problems: list[tuple[int, str, str]] = []  # (OBX position, reason, detail)
    for rejected in parsed.rejected:
        problems.append((rejected.obx_index, rejected.reason, rejected.detail))
        quarantine.add(
            reason=rejected.reason,
            detail=rejected.detail,
            raw={"obx": rejected.raw_obx, "message": parsed.raw[:100_000]},
            device=None,
            index=rejected.obx_index,
        )
    by_obx = {r.obx_index: r for r in parsed.readings}
    for obx_index, outcome in sorted(outcomes.items()):
        if outcome.status != "rejected":
            continue
        reading = by_obx[obx_index]
        told = for_the_sender(outcome)  # the sender learns nothing of patients or sessions
        problems.append((obx_index, told.reason or "invalid", told.detail or ""))
        quarantine.add(
            reason=outcome.reason or "invalid",
            detail=outcome.detail or "",
            raw={"obx": reading.raw_obx, "message": parsed.raw[:100_000]},
            # As devices are registered and the quarantine filter looks them up.
            device=normalize_identifier(reading.device_identifier)
            if reading.device_identifier
            else None,
            index=obx_index,
            session_id=outcome.session_id,
        )
    await quarantine.write(db)

    stored = sum(o.status == "accepted" for o in outcomes.values())
    duplicates = sum(o.status == "duplicate" for o in outcomes.values())
    skipped = Counter(s.reason for s in parsed.skipped)
    summary = f"stored {stored}, duplicate {duplicates}, skipped {len(parsed.skipped)}"
    if skipped:
        summary += " (" + ", ".join(f"{k} {v}" for k, v in sorted(skipped.items())) + ")"
    if problems:
        problems.sort()
        ack_code = "AE"
        reasons = "; ".join(f"OBX {i} {reason}: {detail}" for i, reason, detail in problems)
        ack_text = f"rejected {len(problems)}: {reasons}; {summary}"[:_MAX_ERR_TEXT]
        err_code = _ERR_FOR_REASON.get(problems[0][1], ERR_UNKNOWN_KEY)
    else:
        ack_code, ack_text, err_code = "AA", summary, None
    ack = build_ack(
        original_control_id=parsed.control_id,
        sending_application=parsed.sending_application,
        sending_facility=parsed.sending_facility,
        ack_code=ack_code,
        text=ack_text,
        err_code=err_code,
        charset=charset.msh18,
    )
    await db.execute(
        update(Hl7Message)
        .where(Hl7Message.sender == sender, Hl7Message.control_id == parsed.control_id[:200])
        .values(
            ack_code=ack_code,
            ack=ack,
            stored=stored,
            duplicates=duplicates,
            skipped=len(parsed.skipped),
            rejected=len(problems),
        )
        .execution_options(synchronize_session=False)
    )
    return Hl7Result(
        ack=ack,
        ack_code=ack_code,
        charset=charset,
        stored=stored,
        duplicates=duplicates,
        skipped=len(parsed.skipped),
        rejected=len(problems),
    )


async def _claim(db: AsyncSession, sender: str, control_id: str, source: str) -> bool:
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(Hl7Message)
        .values(sender=sender, control_id=control_id, source=source, ack_code="AR", ack="")
        .on_conflict_do_nothing(index_elements=["sender", "control_id"])
        .returning(Hl7Message.id)
    )
    return (await db.execute(stmt)).first() is not None


async def _route_and_store(db: AsyncSession, audit: Audit, parsed: ParsedOru) -> dict[int, Outcome]:
    """Each reading to its session (by OBX position); store the routed ones."""
    outcomes: dict[int, Outcome] = {}
    readings = parsed.readings
    if not readings:
        return outcomes
    device_routes: dict[str, DeviceRoutes | None] = {}
    for identifier in {r.device_identifier for r in readings if r.device_identifier}:
        device = await find_device(db, identifier)
        if device is None:
            device_routes[identifier] = None
            continue
        times = [r.measured_at for r in readings if r.device_identifier == identifier]
        device_routes[identifier] = await load_routes(db, device, min(times), max(times))
    patient: Patient | None = None
    if parsed.patient_mrn:
        patient = await db.scalar(
            select(Patient).where(Patient.mrn_key == mrn_key(parsed.patient_mrn))
        )

    routed: list[Routed] = []
    for reading in readings:
        target = await _route(db, reading, device_routes, patient, parsed.patient_mrn)
        if isinstance(target, Miss):
            outcomes[reading.obx_index] = Outcome(
                reading.obx_index,
                "rejected",
                target.reason,
                target.detail,
                session_id=target.session_id,
            )
            continue
        routed.append(
            Routed(
                reading.obx_index,
                ReadingInput(
                    code=reading.code,
                    value=reading.value,
                    unit=reading.unit,
                    measured_at=reading.measured_at,
                    external_id=reading_external_id(parsed, reading),
                ),
                target,
            )
        )
    outcomes.update(await store_routed(db, audit, routed))
    return outcomes


async def _route(
    db: AsyncSession,
    reading: DeviceReading,
    device_routes: dict[str, DeviceRoutes | None],
    patient: Patient | None,
    mrn: str | None,
) -> TreatmentSession | Miss:
    device_miss: Miss | None = None
    identifier = reading.device_identifier
    if identifier:
        routes = device_routes.get(identifier)
        if routes is None:
            device_miss = Miss("unknown_device", f"device {identifier} is not registered")
        else:
            target = routes.route(reading.measured_at)
            if not isinstance(target, Miss):
                return target
            device_miss = target
    if patient is not None:
        session = await patient_session_at(db, patient.id, reading.measured_at)
        if session is not None:
            return session
    if device_miss is not None and device_miss.reason != "unknown_device":
        return device_miss
    at = reading.measured_at.isoformat().replace("+00:00", "Z")
    if patient is not None:
        return Miss(
            "no_active_session",
            f"patient {mrn} has no session checked in and not ended at {at}",
        )
    if mrn:
        return Miss("unknown_patient", f"no patient with MRN {mrn} (PID-3)")
    if device_miss is not None:
        return device_miss
    return Miss("unrouted", "no device EUI-64 (OBX-18/OBR-3/MSH-3) and no PID-3 to route by")


def ack_media_type(content_type: str | None, charset: Charset = ASCII) -> str:
    """Answer in the media type the message came in (HL7 over HTTP convention), naming the
    character set the ACK is written in."""
    base = (content_type or "").split(";")[0].strip().lower()
    return f"{base or 'application/hl7-v2'}; charset={charset.mime}"
