"""Stored readings -> vital-signs Observations (a systolic and diastolic pair -> one BP panel)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from api.clinical.bp import bp_pairs_in_order
from api.clinical.vitals import VITALS, VitalCode, plain_unit_spelling
from api.fhir.translate.codes import (
    BP_PANEL_LOINC,
    BP_PROFILE,
    LOINC,
    OBSERVATION_CATEGORY,
    OBSERVATION_STATUSES,
    SPECIFIC_PROFILES,
    SPO2_CORE_LOINC,
    UCUM,
    VITAL_SIGNS_PROFILE,
)
from api.fhir.translate.times import fhir_instant


def _vital_signs_category() -> list[dict[str, Any]]:
    return [
        {
            "coding": [
                {"system": OBSERVATION_CATEGORY, "code": "vital-signs", "display": "Vital Signs"}
            ],
            "text": "Vital Signs",
        }
    ]


def _code_concept(vital: VitalCode) -> dict[str, Any]:
    definition = VITALS[vital]
    codings = [{"system": LOINC, "code": definition.loinc, "display": definition.display}]
    if vital is VitalCode.spo2:  # the core oxygensat profile asks for 2708-6 as well
        codings.append(
            {
                "system": LOINC,
                "code": SPO2_CORE_LOINC,
                "display": "Oxygen saturation in Arterial blood",
            }
        )
    return {"coding": codings, "text": definition.display}


def _quantity_json(value: float, unit: str) -> dict[str, Any]:
    if isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    return {"value": value, "unit": plain_unit_spelling(unit), "system": UCUM, "code": unit}


def _vital(code: str) -> VitalCode:
    try:
        return VitalCode(code)
    except ValueError:
        raise ValueError(f"unknown vital sign code {code!r}") from None


def _check_status(status: str) -> str:
    if status not in OBSERVATION_STATUSES:
        raise ValueError(f"not an Observation status: {status!r}")
    return status


def _observation_base(
    *,
    id: str,
    profiles: list[str],
    status: str,
    concept: dict[str, Any],
    patient_id: str,
    session_id: str,
    measured_at: datetime,
    issued: datetime | None,
    last_updated: datetime | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"versionId": str(reading_version(status))}
    if last_updated is not None:
        meta["lastUpdated"] = fhir_instant(last_updated)
    meta["profile"] = profiles
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": id,
        "meta": meta,
        "status": _check_status(status),
        "category": _vital_signs_category(),
        "code": concept,
        "subject": {"reference": f"Patient/{patient_id}"},
        "encounter": {"reference": f"Encounter/{session_id}"},
        "effectiveDateTime": fhir_instant(measured_at),
    }
    if issued is not None:
        resource["issued"] = fhir_instant(issued)
    return resource


def reading_version(status: str) -> int:
    """A reading's version: 1 as recorded, 2 once retracted (``entered-in-error``), the only
    change a stored reading ever goes through."""
    return 2 if status == "entered-in-error" else 1


def observation_resource(
    *,
    id: str,
    patient_id: str,
    session_id: str,
    code: str,
    value: float,
    unit: str,
    measured_at: datetime,
    status: str,
    issued: datetime | None = None,
    last_updated: datetime | None = None,
) -> dict[str, Any]:
    """A vital-signs Observation for one stored reading (session = Encounter)."""
    vital = _vital(code)
    profiles = [VITAL_SIGNS_PROFILE]
    if vital in SPECIFIC_PROFILES:
        profiles.append(SPECIFIC_PROFILES[vital])
    resource = _observation_base(
        id=id,
        profiles=profiles,
        status=status,
        concept=_code_concept(vital),
        patient_id=patient_id,
        session_id=session_id,
        measured_at=measured_at,
        issued=issued,
        last_updated=last_updated,
    )
    resource["valueQuantity"] = _quantity_json(value, unit)
    return resource


def bp_panel_resource(
    *,
    id: str,
    patient_id: str,
    session_id: str,
    systolic: float,
    diastolic: float,
    measured_at: datetime,
    status: str,
    issued: datetime | None = None,
    last_updated: datetime | None = None,
) -> dict[str, Any]:
    """The 85354-9 blood pressure panel: no value of its own, systolic and diastolic components
    in mm[Hg]."""
    resource = _observation_base(
        id=id,
        profiles=[VITAL_SIGNS_PROFILE, BP_PROFILE],
        status=status,
        concept={
            "coding": [
                {
                    "system": LOINC,
                    "code": BP_PANEL_LOINC,
                    "display": "Blood pressure panel with all children optional",
                }
            ],
            "text": "Blood pressure",
        },
        patient_id=patient_id,
        session_id=session_id,
        measured_at=measured_at,
        issued=issued,
        last_updated=last_updated,
    )
    resource["component"] = [
        {
            "code": _code_concept(VitalCode.systolic_bp),
            "valueQuantity": _quantity_json(systolic, "mm[Hg]"),
        },
        {
            "code": _code_concept(VitalCode.diastolic_bp),
            "valueQuantity": _quantity_json(diastolic, "mm[Hg]"),
        },
    ]
    return resource


class ReadingLike(Protocol):
    """What :func:`group_for_fhir` needs of a stored reading (ORM row or DTO)."""

    @property
    def id(self) -> str: ...
    @property
    def code(self) -> str: ...
    @property
    def value(self) -> float: ...
    @property
    def unit(self) -> str: ...
    @property
    def measured_at(self) -> datetime: ...
    @property
    def status(self) -> str: ...
    @property
    def session_id(self) -> str: ...
    @property
    def patient_id(self) -> str: ...


def _issued(reading: ReadingLike) -> datetime | None:
    recorded_at = getattr(reading, "recorded_at", None)  # optional on the reading
    return recorded_at if isinstance(recorded_at, datetime) else None


def _updated(reading: ReadingLike) -> datetime | None:
    """When the reading last changed: its retraction, else its recording (both optional)."""
    retracted_at = getattr(reading, "retracted_at", None)
    return retracted_at if isinstance(retracted_at, datetime) else _issued(reading)


def _pairs(readings: Sequence[ReadingLike]) -> dict[int, int]:
    """Index of each systolic paired with a diastolic of the same session, time and status
    (the pairing rule for a listing, :func:`api.clinical.bp.bp_pairs_in_order`; a half not in
    mm[Hg] pairs with nothing)."""
    return dict(
        bp_pairs_in_order(
            (r.code if r.unit == "mm[Hg]" else "", (r.session_id, r.measured_at, r.status))
            for r in readings
        )
    )


def group_for_fhir(readings: Sequence[ReadingLike]) -> list[dict[str, Any]]:
    """Observations for ``readings`` in their order; a systolic and a diastolic of the same
    session, ``measured_at`` and status become one 85354-9 panel (id ``bp-{systolic id}``),
    placed where the first of the two was. ``recorded_at``, when readings have it, is
    ``issued``."""
    pairs = _pairs(readings)
    paired = {d: s for s, d in pairs.items()}
    resources: list[dict[str, Any]] = []
    for index, reading in enumerate(readings):
        systolic_index = index if index in pairs else paired.get(index)
        if systolic_index is None:
            resources.append(
                observation_resource(
                    id=reading.id,
                    patient_id=reading.patient_id,
                    session_id=reading.session_id,
                    code=reading.code,
                    value=reading.value,
                    unit=reading.unit,
                    measured_at=reading.measured_at,
                    status=reading.status,
                    issued=_issued(reading),
                    last_updated=_updated(reading),
                )
            )
            continue
        diastolic_index = pairs[systolic_index]
        if index != min(systolic_index, diastolic_index):
            continue  # already emitted with its partner
        systolic, diastolic = readings[systolic_index], readings[diastolic_index]
        issued = [t for t in (_issued(systolic), _issued(diastolic)) if t is not None]
        updated = [t for t in (_updated(systolic), _updated(diastolic)) if t is not None]
        resources.append(
            bp_panel_resource(
                id=f"bp-{systolic.id}",
                patient_id=systolic.patient_id,
                session_id=systolic.session_id,
                systolic=systolic.value,
                diastolic=diastolic.value,
                measured_at=systolic.measured_at,
                status=systolic.status,
                issued=max(issued) if issued else None,
                last_updated=max(updated) if updated else None,
            )
        )
    return resources
