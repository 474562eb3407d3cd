"""Accepted units: one rule (api.clinical.vitals.accepts_unit) that REST (normalize), FHIR and
HL7 v2 all apply, so a unit accepted on one entry point is accepted on every one."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest

from api.clinical.vitals import (
    PLAIN_UNITS,
    UNIT_ALIASES,
    VITALS,
    VitalCode,
    VitalValueError,
    accepted_units,
    accepts_unit,
    canonical_unit_spelling,
    normalize,
    plain_unit_spelling,
)
from api.fhir.translate.codes import LOINC, UCUM
from api.fhir.translate.inbound import parse_observation
from api.fhir.translate.outcome import FhirInputError
from api.integrations.hl7v2 import MDC_TO_VITAL, parse_oru

#: Every spelling Vigil knows, the canonical units, and some it does not.
SPELLINGS = sorted(
    {*UNIT_ALIASES, *UNIT_ALIASES.values(), *(d.unit for d in VITALS.values())}
    | {"kg", "mmol/L", "beats", "K", "cmH2O", "mm[Hg] "}
)
MDC_CODE = {vital: code for code, vital in reversed(MDC_TO_VITAL.items())}


def test_each_vital_accepts_its_canonical_unit_and_its_conversions_only() -> None:
    for code, definition in VITALS.items():
        assert accepted_units(code) == [definition.unit, *definition.conversions]
        for unit in SPELLINGS:
            assert accepts_unit(code, unit) == (unit in accepted_units(code)), (code, unit)
    assert not accepts_unit("weight", "kg")


def test_every_stored_unit_has_a_plain_spelling_that_reads_back() -> None:
    for definition in VITALS.values():
        plain = plain_unit_spelling(definition.unit)
        assert canonical_unit_spelling(plain) == definition.unit
    for unit, plain in PLAIN_UNITS.items():
        assert canonical_unit_spelling(plain) == unit
    assert plain_unit_spelling("kPa") == "kPa"


def _rest_accepts(code: VitalCode, unit: str) -> bool:
    try:
        normalize(code, VITALS[code].low, unit)
    except VitalValueError as exc:
        return exc.field != "unit"  # a converted value may be out of range: not a unit matter
    return True


def _fhir_accepts(code: VitalCode, unit: str) -> bool:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": VITALS[code].loinc}]},
        "subject": {"reference": "Patient/p-1"},
        "effectiveDateTime": "2024-05-01T10:15:30Z",
        "valueQuantity": {"value": 1, "system": UCUM, "code": unit},
    }
    try:
        parse_observation(resource)
    except FhirInputError:
        return False
    return True


def _hl7_accepts(code: VitalCode, unit: str) -> bool:
    message = "\r".join(
        [
            "MSH|^~\\&|MON||VIGIL||20240305101500+0000||ORU^R01^ORU_R01|M1|P|2.6",
            "PID|||A-1^^^VIGIL^MR",
            "OBR|1||||||20240305101500+0000",
            f"OBX|1|NM|{MDC_CODE[code]}^^MDC||1|{unit}|||||F",
        ]
    )
    parsed = parse_oru(message, clinic_tz=UTC)
    assert len(parsed.readings) + len(parsed.rejected) == 1
    return bool(parsed.readings)


@pytest.mark.parametrize("code", list(VitalCode))
def test_rest_fhir_and_hl7_accept_the_same_units(code: VitalCode) -> None:
    for sent in SPELLINGS:
        expected = accepts_unit(code, canonical_unit_spelling(sent))
        got = (_rest_accepts(code, sent), _fhir_accepts(code, sent), _hl7_accepts(code, sent))
        assert got == (expected, expected, expected), (code, sent)
