"""FHIR R4 facade over the record: vital-sign Observations in and out, Patient read.

Incoming Observations go through the readings pipeline (:mod:`api.readings.pipeline`): the
same lock, rules, pairing, de-duplication, alerts and live events as every other entry point.
Failures are OperationOutcomes whose expressions name the element (inside a Bundle:
``Bundle.entry[i]...``); what could not be stored is also kept in the quarantine.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

import orjson
from sqlalchemy import Select, and_, false, not_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import Audit
from api.clinical.bp import is_bp_half
from api.deps import app_settings
from api.devices.service import patient_session_at
from api.errors import NotFound
from api.fhir import translate
from api.fhir.errors import FhirError
from api.fhir.search import ObservationSearch
from api.fhir.translate import FhirInputError, InboundObservation, issue
from api.integrations.ingest import Quarantine
from api.readings import pipeline
from api.readings.check import ReadingInput
from api.sessions.repository import get_session
from api.types import parse_id
from models import Observation, Patient, TreatmentSession
from models.base import EARLIEST_STORED, LATEST_STORED, utcnow

MAX_EXTERNAL_ID = 200


def _tolerance(audit: Audit) -> int:
    """SPEC §1's ``future_tolerance_seconds``: the app's setting, which the pure translator takes
    as an input."""
    return app_settings(audit.request).future_tolerance_seconds


@dataclass(frozen=True)
class StoredReading:
    """A stored reading in the shape the FHIR builders read (``ReadingLike``)."""

    id: str
    code: str
    value: float
    unit: str
    measured_at: datetime
    status: str
    session_id: str
    patient_id: str
    recorded_at: datetime | None = None
    retracted_at: datetime | None = None


@dataclass(frozen=True)
class Created:
    resource: dict[str, Any]
    created: bool  # False: every reading was already stored (a retried identifier)


def _external_id(identifier: str | None, code: str, panel: bool) -> str | None:
    if identifier is None:
        return None
    value = f"{identifier}#{code}" if panel else identifier
    if len(value) <= MAX_EXTERNAL_ID:
        return value
    return "fhir:" + hashlib.sha256(value.encode()).hexdigest()


async def _target_session(
    db: AsyncSession, inbound: InboundObservation, path: str
) -> TreatmentSession:
    if inbound.encounter_session_id is not None:
        try:
            session = await get_session(db, inbound.encounter_session_id)
        except NotFound:
            raise FhirError(
                422,
                [
                    issue(
                        "not-found",
                        f"Encounter/{inbound.encounter_session_id} names no session",
                        [f"{path}.encounter"],
                    )
                ],
            ) from None
        if (
            inbound.subject_patient_id is not None
            and str(session.patient_id) != inbound.subject_patient_id
        ):
            raise FhirError(
                422,
                [
                    issue(
                        "business-rule",
                        "the encounter is a session of another patient than the subject",
                        [f"{path}.subject"],
                    )
                ],
            )
        return session
    if inbound.subject_patient_id is None:
        raise FhirError(
            422,
            [
                issue(
                    "required",
                    "subject (Patient/{id}) or encounter (Encounter/{session id}) is required",
                    [f"{path}.subject"],
                )
            ],
        )
    pid = parse_id(inbound.subject_patient_id)
    patient = await db.get(Patient, pid) if pid is not None else None
    if patient is None:
        raise FhirError(
            422,
            [
                issue(
                    "not-found",
                    f"Patient/{inbound.subject_patient_id} names no patient",
                    [f"{path}.subject"],
                )
            ],
        )
    found = await patient_session_at(db, patient.id, inbound.measured_at)
    if found is None:
        raise FhirError(
            422,
            [
                issue(
                    "business-rule",
                    f"Patient/{patient.id} has no session checked in and not ended at "
                    f"{translate.fhir_instant(inbound.measured_at)}; name one with encounter",
                    [f"{path}.effective"],
                )
            ],
        )
    return found


async def ingest_observation(
    db: AsyncSession, audit: Audit, resource: Any, *, base_url: str, path: str = "Observation"
) -> Created:
    """Check, route and store one Observation; raise :class:`FhirError` naming every problem.

    ``base_url``: this server's FHIR base (absolute references on it are this server's)."""
    try:
        inbound = translate.parse_observation(
            resource, path=path, base_url=base_url, future_tolerance_seconds=_tolerance(audit)
        )
    except FhirInputError as exc:
        raise FhirError(exc.status, exc.issues) from None
    if not inbound.readings:
        raise FhirError(
            422,
            [
                issue(
                    "not-supported",
                    "the Observation carries no value (dataAbsentReason): Vigil records "
                    "measured values only",
                    [f"{path}.value[x]"],
                )
            ],
        )
    target = await _target_session(db, inbound, path)
    panel = len(inbound.readings) > 1
    ingested = await pipeline.ingest(
        db,
        [
            pipeline.Item(
                index,
                ReadingInput(
                    code=reading.code,
                    value=reading.value,
                    unit=reading.unit,
                    measured_at=reading.measured_at,
                    external_id=_external_id(inbound.identifier, reading.code, panel),
                ),
                target.id,
            )
            for index, reading in enumerate(inbound.readings)
        ],
        source=audit.actor.source,
        recorded_by=audit.actor.id,
        recorded_at=utcnow(),
        atomic=True,
        clinic_thresholds=app_settings(audit.request).thresholds,
    )
    session = ingested.sessions[target.id]
    if ingested.failures(pipeline.Kind.after_end):
        ended = translate.fhir_instant(session.ended_at) if session.ended_at else ""
        raise FhirError(  # SPEC §4: a reading measured after the session ended is 409
            409,
            [
                issue(
                    "business-rule",
                    f"measured after session {session.id} ended at {ended}",
                    [f"{path}.effective"],
                )
            ],
        )
    kinds = (("value", pipeline.Kind.invalid), ("business-rule", pipeline.Kind.bad_pair))
    issues = [
        issue(kind, o.message or "", [inbound.readings[o.index].value_path])
        for kind, failed in kinds
        for o in ingested.failures(failed)
        if o.blamed
    ]
    if issues:
        raise FhirError(422, issues)
    # An identifier already used (by this source) for a reading of another session is a
    # conflict, as in REST: answering with that reading would mix two patients' records. The
    # pipeline (atomic) stored nothing of this resource then (a batch entry is not rolled back
    # on its own).
    if ingested.failures(pipeline.Kind.foreign_external_id):
        raise _identifier_conflict(inbound, path)
    outcomes = [ingested.outcomes[i] for i in range(len(inbound.readings))]
    rows = list({o.row["id"]: o.row for o in outcomes if o.row is not None}.values())
    audit.record("create", "observation", rows[0]["id"], patient_id=session.patient_id)
    readings = [_stored(row, session.patient_id) for row in rows]
    resources = translate.group_for_fhir(readings)
    # A BP panel comes back as the panel (a mean pressure component is stored alongside).
    resource = next((r for r in resources if r["id"].startswith("bp-")), resources[0])
    return Created(
        resource=resource,
        created=any(o.kind is pipeline.Kind.accepted for o in outcomes),
    )


def _identifier_conflict(inbound: InboundObservation, path: str) -> FhirError:
    return FhirError(
        409,
        [
            issue(
                "duplicate",
                f"identifier {inbound.identifier!r} was already used for a reading of another "
                "session",
                [f"{path}.identifier"],
            )
        ],
    )


def _stored(row: Mapping[str, Any], patient_id: uuid.UUID) -> StoredReading:
    return StoredReading(
        id=str(row["id"]),
        code=row["code"],
        value=row["value"],
        unit=row["unit"],
        measured_at=row["measured_at"],
        status=row["status"],
        session_id=str(row["session_id"]),
        patient_id=str(patient_id),
        recorded_at=row.get("recorded_at"),
    )


def storable(value: Any, body: bytes) -> Any:
    """What the quarantine keeps of a refused resource: the resource as sent, or, when it
    cannot be stored as JSON (nested deeper than the JSON column's serializer goes, or not JSON
    at all), the request body as text. Never nothing."""
    if value is not None:
        try:
            orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
            return value
        except (TypeError, orjson.JSONEncodeError):
            pass
    return {"unparsed_body": body.decode("utf-8", "replace")}


def rejected(
    audit: Audit, failures: Sequence[tuple[int | None, Any, FhirError]], *, body: bytes = b""
) -> Quarantine:
    """Quarantine rows for refused resources, with the resource as sent (``body``: the request
    body, kept instead when a resource cannot be stored as it is)."""
    quarantine = Quarantine("fhir", audit.actor.source)
    for index, resource, exc in failures:
        quarantine.add(
            reason="rejected_resource",
            detail=exc.detail,
            raw=storable(resource, body),
            device=None,
            index=index,
        )
    return quarantine


async def ingest_bundle(
    db: AsyncSession, audit: Audit, bundle: Any, *, base_url: str
) -> tuple[dict[str, Any], list[tuple[int, Any, FhirError]]]:
    """A batch or transaction Bundle. Returns the response Bundle and the failed entries.

    batch: each entry on its own (failures answered in their entry). transaction: any failure
    raises :class:`FhirError` naming every failed entry; the caller rolls everything back.
    """
    try:
        bundle_type, entries = translate.parse_bundle(bundle)
    except FhirInputError as exc:
        raise FhirError(400, exc.issues) from None
    if len(entries) > 1:
        await _lock_targets(db, audit, entries, base_url)
    responses: list[translate.EntryResponse] = []
    failures: list[tuple[int, Any, FhirError]] = []
    for index, resource in entries:
        try:
            created = await ingest_observation(
                db, audit, resource, base_url=base_url, path=f"Bundle.entry[{index}].resource"
            )
        except FhirError as exc:
            failures.append((index, resource, exc))
            responses.append(translate.EntryResponse.failed(exc.status, exc.extra["issue"]))
            continue
        responses.append(
            translate.EntryResponse.created(
                created.resource, status_code=201 if created.created else 200
            )
        )
    if bundle_type == "transaction":
        if failures:
            issues = [
                {**i, "diagnostics": f"entry {index}: {i.get('diagnostics', '')}"}
                for index, _, exc in failures
                for i in exc.extra["issue"]
            ]
            statuses = {exc.status for _, _, exc in failures}
            status = statuses.pop() if statuses in ({400}, {409}) else 422
            raise TransactionFailed(
                FhirError(
                    status,
                    issues,
                    detail="transaction not applied: "
                    + ", ".join(f"entry {i}" for i, _, _ in failures)
                    + " failed",
                ),
                failures,
            )
        return translate.transaction_response_bundle(responses), failures
    return translate.batch_response_bundle(responses), failures


async def _lock_targets(
    db: AsyncSession, audit: Audit, entries: Sequence[tuple[int, Any]], base_url: str
) -> None:
    """Take the pipeline's locks for every entry up front, in one order (sessions by id, then
    BP readings by key; see :func:`api.readings.pipeline.lock`): entries would otherwise lock
    them in entry order, and two bundles naming two sessions in opposite orders could deadlock.
    An entry that names no session is skipped here and answered when it is ingested."""
    targets: set[uuid.UUID] = set()
    bp: list[tuple[uuid.UUID, datetime]] = []
    for index, resource in entries:
        path = f"Bundle.entry[{index}].resource"
        try:
            inbound = translate.parse_observation(
                resource, path=path, base_url=base_url, future_tolerance_seconds=_tolerance(audit)
            )
            target = (await _target_session(db, inbound, path)).id
        except (FhirInputError, FhirError):
            continue
        targets.add(target)
        bp += [(target, r.measured_at) for r in inbound.readings if is_bp_half(r.code)]
    await pipeline.lock(db, targets, bp)


class TransactionFailed(Exception):
    def __init__(self, error: FhirError, failures: list[tuple[int, Any, FhirError]]) -> None:
        super().__init__(error.detail)
        self.error = error
        self.failures = failures


# --------------------------------------------------------------------------------------------
# Reads
# --------------------------------------------------------------------------------------------


async def read_patient(db: AsyncSession, audit: Audit, patient_id: str) -> dict[str, Any]:
    pid = parse_id(patient_id)
    patient = await db.get(Patient, pid) if pid is not None else None
    if patient is None:
        raise FhirError(404, [issue("not-found", f"Patient/{patient_id} is not known")])
    audit.record("read", "patient", patient.id, patient_id=patient.id)
    return translate.patient_resource(
        id=str(patient.id),
        mrn=patient.mrn,
        given_name=patient.given_name,
        family_name=patient.family_name,
        birth_date=patient.birth_date,
        sex=patient.sex,
        version=patient.version,
    )


def _readings_query() -> Select[Observation, uuid.UUID]:
    return select(Observation, TreatmentSession.patient_id).join(
        TreatmentSession, TreatmentSession.id == Observation.session_id
    )


def _as_stored(observation: Observation, patient_id: uuid.UUID) -> StoredReading:
    return StoredReading(
        id=str(observation.id),
        code=observation.code,
        value=observation.value,
        unit=observation.unit,
        measured_at=observation.measured_at,
        status=observation.status,
        session_id=str(observation.session_id),
        patient_id=str(patient_id),
        recorded_at=observation.recorded_at,
        retracted_at=observation.retracted_at,
    )


async def read_observation(db: AsyncSession, audit: Audit, resource_id: str) -> dict[str, Any]:
    panel = resource_id.startswith("bp-")
    oid = parse_id(resource_id.removeprefix("bp-"))
    row = (
        (await db.execute(_readings_query().where(Observation.id == oid))).first() if oid else None
    )
    if row is None or (panel and row[0].code != "systolic_bp"):
        raise FhirError(404, [issue("not-found", f"Observation/{resource_id} is not known")])
    observation, patient_id = row
    readings = [_as_stored(observation, patient_id)]
    if panel:
        partner = await db.scalar(
            select(Observation).where(
                Observation.session_id == observation.session_id,
                Observation.measured_at == observation.measured_at,
                Observation.status == observation.status,
                Observation.code == "diastolic_bp",
            )
        )
        if partner is None:
            raise FhirError(404, [issue("not-found", f"Observation/{resource_id} is not known")])
        readings.append(_as_stored(partner, patient_id))
    audit.record("read", "observation", observation.id, patient_id=patient_id)
    resources = translate.group_for_fhir(readings)
    return resources[0]


def _codes(values: Sequence[str]) -> set[str] | None:
    """Vigil codes for ``code`` search tokens (comma = or); None when not searched."""
    if not values:
        return None
    wanted: set[str] = set()
    for value in values:
        for token in value.split(","):
            system, bar, code = token.strip().rpartition("|")
            if bar and system not in ("", translate.LOINC):
                continue
            if code in translate.BP_PANEL_LOINCS:
                wanted |= {"systolic_bp", "diastolic_bp"}
            elif code in translate.LOINC_TO_VITAL:
                wanted.add(translate.LOINC_TO_VITAL[code].value)
    return wanted


def _date_condition(value: str, day_tz: tzinfo, now: datetime) -> Any:
    """SQL for one ``date`` search value: the bounds :func:`translate.date_bounds` gives, the
    same ones :func:`translate.date_matches` tests in Python."""
    try:
        prefix, start, end = translate.parse_date_param(value, day_tz=day_tz, now=now)
    except FhirInputError as exc:
        raise FhirError(400, [{**i, "expression": ["date"]} for i in exc.issues]) from None
    bounds = translate.date_bounds(prefix, start, end)
    inside = and_(
        true() if bounds.lower is None else _at_or_after(bounds.lower),
        true() if bounds.upper is None else _before(bounds.upper),
    )
    return not_(inside) if bounds.outside else inside


# No reading time lies outside 1970-01-01 – 9999-01-01 (SPEC §1; the column refuses such a
# value even as a bound): a bound beyond that range decides the comparison by itself.
def _at_or_after(moment: datetime) -> Any:
    if moment <= EARLIEST_STORED:
        return true()
    if moment > LATEST_STORED:
        return false()
    return Observation.measured_at >= moment


def _before(moment: datetime) -> Any:
    if moment <= EARLIEST_STORED:
        return false()
    if moment > LATEST_STORED:
        return true()
    return Observation.measured_at < moment


@dataclass(frozen=True)
class SearchResult:
    resources: list[dict[str, Any]]  # this page's entries
    total: int  # every match, all pages
    next_key: tuple[datetime, str] | None  # keyset of the next page (None: last page)


def _entry_key(resource: Mapping[str, Any]) -> tuple[datetime, str]:
    return translate.parse_fhir_datetime(resource["effectiveDateTime"]), str(resource["id"])


def _uuids(ids: frozenset[str]) -> list[uuid.UUID]:
    return [u for u in (parse_id(i) for i in ids) if u is not None]


async def search_observations(
    db: AsyncSession,
    audit: Audit,
    search: ObservationSearch,
    *,
    day_tz: tzinfo,
    now: datetime,
) -> SearchResult:
    """Matching readings as FHIR entries (a BP pair is one panel entry), sorted by time
    (``-date``: newest first), ``search.count`` entries a page.

    A date without a time of day (``2026-12-01``) is that day in the clinic's time zone. The
    readings of a patient are few enough (hundreds a course) to group whole: so ``total`` is
    exact, a page holds exactly ``count`` entries whatever times readings share, and the
    keyset (time, entry id) never splits a panel across pages.
    """
    stmt = _readings_query().where(Observation.status == "final")
    patient_ids: list[uuid.UUID] = []
    if search.patients is not None:
        patient_ids = _uuids(search.patients)
        stmt = stmt.where(TreatmentSession.patient_id.in_(patient_ids))
    if search.encounters is not None:
        stmt = stmt.where(Observation.session_id.in_(_uuids(search.encounters)))
    for value in search.dates:
        stmt = stmt.where(_date_condition(value, day_tz, now))
    wanted = _codes(search.codes)
    if wanted is not None:
        stmt = stmt.where(Observation.code.in_(sorted(wanted)))
    stmt = stmt.order_by(Observation.measured_at, Observation.id)
    rows = list((await db.execute(stmt)).all())
    audit.record(
        "read", "observation", None, patient_id=patient_ids[0] if len(patient_ids) == 1 else None
    )
    entries = translate.group_for_fhir([_as_stored(o, pid) for o, pid in rows])
    keyed = sorted(((_entry_key(r), r) for r in entries), reverse=search.descending)
    if search.summary_count:
        return SearchResult(resources=[], total=len(keyed), next_key=None)
    if search.after is not None:
        after = search.after
        keyed = [(k, r) for k, r in keyed if (k < after if search.descending else k > after)]
    page = keyed[: search.count]
    next_key = page[-1][0] if len(keyed) > search.count else None
    return SearchResult(resources=[r for _, r in page], total=len(entries), next_key=next_key)


# --------------------------------------------------------------------------------------------
# Encounter: a session
# --------------------------------------------------------------------------------------------


async def read_encounter(db: AsyncSession, audit: Audit, session_id: str) -> dict[str, Any]:
    sid = parse_id(session_id)
    session = await db.get(TreatmentSession, sid) if sid is not None else None
    if session is None:
        raise FhirError(404, [issue("not-found", f"Encounter/{session_id} is not known")])
    audit.record("read", "session", session.id, patient_id=session.patient_id)
    return translate.encounter_resource(
        id=str(session.id),
        patient_id=str(session.patient_id),
        status=session.status,
        scheduled_at=session.scheduled_at,
        checked_in_at=session.checked_in_at,
        ended_at=session.ended_at,
        location=session.location,
        version=session.version,
    )


#: Where other FHIR resource types (AdverseEvent, MedicationStatement: SPEC §8, §11) add their
#: read and search functions: one function per interaction, each auditing its read.
