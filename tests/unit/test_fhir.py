"""FHIR R4 translator: inbound parsing and outbound resources validated with fhir.resources.

fhir.resources 8.x ships R5 at the top level and R4B under ``fhir.resources.R4B``; R4B's
Observation, Bundle, Patient, OperationOutcome and CapabilityStatement are R4-compatible for
everything Vigil emits.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient

from api.clinical.vitals import VITALS, VitalCode
from api.fhir.translate.bundles import (
    EntryResponse,
    batch_response_bundle,
    searchset_bundle,
    transaction_response_bundle,
)
from api.fhir.translate.capability import capability_statement
from api.fhir.translate.codes import (
    BP_PROFILE,
    LOINC,
    OBSERVATION_CATEGORY,
    UCUM,
    VITAL_SIGNS_PROFILE,
)
from api.fhir.translate.dates import (
    EARLIEST,
    LATEST,
    DateBounds,
    date_bounds,
    date_matches,
    parse_date_param,
)
from api.fhir.translate.inbound import parse_bundle, parse_observation
from api.fhir.translate.observation import (
    bp_panel_resource,
    group_for_fhir,
    observation_resource,
)
from api.fhir.translate.outcome import FhirInputError, operation_outcome
from api.fhir.translate.resources import patient_resource
from api.fhir.translate.times import fhir_instant, parse_fhir_datetime

VALIDATORS: dict[str, Callable[[dict[str, Any]], object]] = {
    "Observation": Observation.model_validate,
    "Bundle": Bundle.model_validate,
    "OperationOutcome": OperationOutcome.model_validate,
    "CapabilityStatement": CapabilityStatement.model_validate,
    "Patient": Patient.model_validate,
}


def valid(resource: dict[str, Any]) -> dict[str, Any]:
    """Validate with the FHIR models (extra keys forbidden, primitives by regex)."""
    VALIDATORS[resource["resourceType"]](copy.deepcopy(resource))
    return resource


def loinc(code: str) -> dict[str, Any]:
    return {"coding": [{"system": LOINC, "code": code}]}


def quantity(value: object, code: str, unit: str | None = None) -> dict[str, Any]:
    return {"value": value, "unit": unit or code, "system": UCUM, "code": code}


def obs(**overrides: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:monitor:chair-3", "value": "991"}],
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "vital-signs"}]}],
        "code": loinc("8867-4"),
        "subject": {"reference": "Patient/p-1"},
        "encounter": {"reference": "Encounter/s-1"},
        "effectiveDateTime": "2024-05-01T10:15:30+02:00",
        "valueQuantity": quantity(72, "/min", "beats/minute"),
    }
    resource.update(overrides)
    return {k: v for k, v in resource.items() if v is not None}


def bp_panel(**overrides: Any) -> dict[str, Any]:
    panel = obs(
        code=loinc("85354-9"),
        valueQuantity=None,
        component=[
            {"code": loinc("8480-6"), "valueQuantity": quantity(128, "mm[Hg]", "mmHg")},
            {"code": loinc("8462-4"), "valueQuantity": quantity(82, "mm[Hg]", "mmHg")},
        ],
    )
    panel.update(overrides)
    return panel


def issues_of(resource: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(FhirInputError) as info:
        parse_observation(resource)
    valid(operation_outcome(info.value.issues))
    return info.value.issues


def expressions(resource: dict[str, Any]) -> list[str]:
    return [e for i in issues_of(resource) for e in i.get("expression", [])]


MEASURED = datetime(2024, 5, 1, 8, 15, 30, tzinfo=UTC)


class TestParseObservation:
    def test_heart_rate(self) -> None:
        resource = obs()
        valid(resource)
        parsed = parse_observation(resource)
        assert parsed.subject_patient_id == "p-1"
        assert parsed.encounter_session_id == "s-1"
        assert parsed.measured_at == MEASURED
        assert parsed.measured_at.tzinfo is UTC
        assert parsed.identifier == "urn:monitor:chair-3|991"
        assert parsed.status == "final"
        [reading] = parsed.readings
        assert (reading.code, reading.value, reading.unit) == ("heart_rate", 72.0, "/min")
        assert reading.measured_at == MEASURED
        assert reading.value_path == "Observation.valueQuantity"

    @pytest.mark.parametrize("code", ["59408-5", "2708-6"])
    def test_spo2_either_loinc(self, code: str) -> None:
        parsed = parse_observation(obs(code=loinc(code), valueQuantity=quantity(97, "%")))
        assert [(r.code, r.value, r.unit) for r in parsed.readings] == [("spo2", 97.0, "%")]

    def test_spo2_us_core_sends_both_codes(self) -> None:
        concept = {
            "coding": [
                {"system": LOINC, "code": "2708-6"},
                {"system": LOINC, "code": "59408-5"},
            ]
        }
        parsed = parse_observation(obs(code=concept, valueQuantity=quantity(95.5, "%")))
        assert parsed.readings[0].code == "spo2"

    def test_temperature_in_fahrenheit(self) -> None:
        resource = obs(code=loinc("8310-5"), valueQuantity=quantity(98.6, "[degF]", "degF"))
        valid(resource)
        [reading] = parse_observation(resource).readings
        assert (reading.code, reading.value, reading.unit) == ("temperature", 98.6, "[degF]")

    def test_unit_falls_back_to_plain_spelling(self) -> None:
        resource = obs(code=loinc("8480-6"), valueQuantity={"value": 120, "unit": "mmHg"})
        [reading] = parse_observation(resource).readings
        assert (reading.code, reading.unit) == ("systolic_bp", "mm[Hg]")

    def test_blood_pressure_panel(self) -> None:
        resource = bp_panel()
        valid(resource)
        parsed = parse_observation(resource)
        assert [(r.code, r.value, r.unit, r.value_path) for r in parsed.readings] == [
            ("systolic_bp", 128.0, "mm[Hg]", "Observation.component[0].valueQuantity"),
            ("diastolic_bp", 82.0, "mm[Hg]", "Observation.component[1].valueQuantity"),
        ]
        assert {r.measured_at for r in parsed.readings} == {MEASURED}

    def test_older_panel_code_with_mean_and_unrelated_component(self) -> None:
        resource = bp_panel(code=loinc("55284-4"))
        resource["component"] += [
            {"code": loinc("8478-0"), "valueQuantity": quantity(97, "mm[Hg]")},
            {"code": loinc("8357-6"), "valueCodeableConcept": {"text": "left arm"}},
        ]
        codes = [r.code for r in parse_observation(resource).readings]
        assert codes == ["systolic_bp", "diastolic_bp", "mean_bp"]

    def test_panel_component_with_data_absent_reason(self) -> None:
        resource = bp_panel()
        resource["component"][1] = {
            "code": loinc("8462-4"),
            "dataAbsentReason": {"coding": [{"code": "error"}]},
        }
        assert [r.code for r in parse_observation(resource).readings] == ["systolic_bp"]

    def test_data_absent_reason_gives_no_reading(self) -> None:
        resource = obs(valueQuantity=None, dataAbsentReason={"text": "probe off"})
        assert parse_observation(resource).readings == []

    def test_effective_period_start_and_other_statuses(self) -> None:
        resource = obs(
            effectiveDateTime=None,
            effectivePeriod={"start": "2024-05-01T08:15:30Z", "end": "2024-05-01T08:16:00Z"},
            status="amended",
        )
        parsed = parse_observation(resource)
        assert parsed.measured_at == MEASURED
        assert parsed.status == "amended"

    def test_absolute_references_on_this_base_and_no_identifier(self) -> None:
        parsed = parse_observation(
            obs(
                subject={"reference": "https://vigil.example/fhir/R4/Patient/p-9"},
                encounter={"reference": "https://vigil.example/fhir/R4/Encounter/s-1"},
                identifier=None,
            ),
            base_url="https://vigil.example/fhir/R4/",
        )
        assert parsed.subject_patient_id == "p-9"
        assert parsed.encounter_session_id == "s-1"
        assert parsed.identifier is None

    @pytest.mark.parametrize(
        "reference",
        [
            "https://other.example/fhir/R4/Encounter/s-1",
            "https://vigil.example/fhir/R5/Encounter/s-1",
            "https://vigil.example.evil/fhir/R4/Encounter/s-1",
            "urn:x/Encounter/s-1",
        ],
    )
    def test_a_reference_to_another_server_is_malformed(self, reference: str) -> None:
        with pytest.raises(FhirInputError) as raised:
            parse_observation(
                obs(encounter={"reference": reference}), base_url="https://vigil.example/fhir/R4"
            )
        assert raised.value.status == 400
        assert raised.value.issues[0]["expression"] == ["Observation.encounter.reference"]

    def test_identifier_without_system(self) -> None:
        assert parse_observation(obs(identifier=[{"value": "abc"}])).identifier == "abc"


class TestRejectObservation:
    def test_wrong_resource_type(self) -> None:
        [issue] = issues_of({"resourceType": "Patient", "id": "x"})
        assert issue["code"] == "invalid"
        assert issue["expression"] == ["Observation.resourceType"]

    def test_not_an_object(self) -> None:
        with pytest.raises(FhirInputError):
            parse_observation([])  # type: ignore[arg-type]

    def test_unknown_code(self) -> None:
        [issue] = issues_of(obs(code=loinc("29463-7")))
        assert issue["code"] == "code-invalid"
        assert issue["expression"] == ["Observation.code"]
        assert "29463-7" in issue["diagnostics"]

    def test_code_without_loinc_system(self) -> None:
        concept = {"coding": [{"system": "http://snomed.info/sct", "code": "364075005"}]}
        assert expressions(obs(code=concept)) == ["Observation.code"]

    def test_conflicting_codes(self) -> None:
        concept = {
            "coding": [{"system": LOINC, "code": "8867-4"}, {"system": LOINC, "code": "9279-1"}]
        }
        assert issues_of(obs(code=concept))[0]["code"] == "code-invalid"

    def test_missing_value(self) -> None:
        [issue] = issues_of(obs(valueQuantity=None))
        assert issue["code"] == "required"
        assert issue["expression"] == ["Observation.value[x]"]

    def test_value_of_the_wrong_type(self) -> None:
        assert expressions(obs(valueQuantity=None, valueString="72")) == ["Observation.valueString"]

    @pytest.mark.parametrize("value", ["72", True, float("nan"), float("inf"), None])
    def test_bad_numbers(self, value: object) -> None:
        assert expressions(obs(valueQuantity=quantity(value, "/min"))) == [
            "Observation.valueQuantity.value"
        ]

    def test_naive_effective_date_time(self) -> None:
        [issue] = issues_of(obs(effectiveDateTime="2024-05-01T10:15:30"))
        assert issue["expression"] == ["Observation.effectiveDateTime"]
        assert "offset" in issue["diagnostics"]

    def test_date_only_effective(self) -> None:
        [issue] = issues_of(obs(effectiveDateTime="2024-05-01"))
        assert "time" in issue["diagnostics"]

    def test_missing_effective(self) -> None:
        assert expressions(obs(effectiveDateTime=None)) == ["Observation.effective[x]"]

    def test_unit_mismatch_names_the_path(self) -> None:
        [issue] = issues_of(obs(code=loinc("8480-6"), valueQuantity=quantity(120, "%")))
        assert issue["expression"] == ["Observation.valueQuantity.code"]
        assert "systolic_bp" in issue["diagnostics"]

    def test_unit_mismatch_on_unit_when_no_code(self) -> None:
        resource = obs(valueQuantity={"value": 72, "unit": "kg"})
        assert expressions(resource) == ["Observation.valueQuantity.unit"]

    def test_non_ucum_system(self) -> None:
        resource = obs(valueQuantity={**quantity(72, "/min"), "system": "http://example.org"})
        assert expressions(resource) == ["Observation.valueQuantity.system"]

    def test_missing_unit(self) -> None:
        assert expressions(obs(valueQuantity={"value": 72})) == ["Observation.valueQuantity.code"]

    @pytest.mark.parametrize("status", ["entered-in-error", "cancelled", "registered", "bogus"])
    def test_rejected_statuses(self, status: str) -> None:
        [issue] = issues_of(obs(status=status))
        assert issue["expression"] == ["Observation.status"]

    def test_missing_status(self) -> None:
        assert issues_of(obs(status=None))[0]["code"] == "required"

    def test_wrong_reference_types(self) -> None:
        resource = obs(
            subject={"reference": "Group/g-1"}, encounter={"identifier": {"value": "visit"}}
        )
        assert expressions(resource) == [
            "Observation.subject.reference",
            "Observation.encounter.reference",
        ]

    def test_panel_missing_diastolic(self) -> None:
        resource = bp_panel()
        del resource["component"][1]
        [issue] = issues_of(resource)
        assert issue["expression"] == ["Observation.component"]
        assert "diastolic_bp" in issue["diagnostics"]

    def test_panel_without_components(self) -> None:
        resource = bp_panel()
        del resource["component"]
        assert issues_of(resource)[0]["code"] == "required"

    def test_panel_component_unit_mismatch(self) -> None:
        resource = bp_panel()
        resource["component"][0]["valueQuantity"] = quantity(128, "%")
        assert expressions(resource) == ["Observation.component[0].valueQuantity.code"]

    def test_panel_component_without_value(self) -> None:
        resource = bp_panel()
        del resource["component"][0]["valueQuantity"]
        assert expressions(resource) == ["Observation.component[0].value[x]"]

    def test_every_problem_is_reported_at_once(self) -> None:
        resource = obs(
            status="cancelled",
            effectiveDateTime="2024-05-01T10:15",
            valueQuantity=quantity(72, "mm[Hg]"),
        )
        assert expressions(resource) == [
            "Observation.status",
            "Observation.effectiveDateTime",
            "Observation.valueQuantity.code",
        ]

    def test_path_prefix_for_bundle_entries(self) -> None:
        with pytest.raises(FhirInputError) as info:
            parse_observation(obs(valueQuantity=None), path="Bundle.entry[2].resource")
        assert info.value.issues[0]["expression"] == ["Bundle.entry[2].resource.value[x]"]
        assert "required" in str(info.value)


class TestParseBundle:
    def entry(
        self, resource: dict[str, Any], method: str = "POST", url: str = "Observation"
    ) -> dict[str, Any]:
        return {"resource": resource, "request": {"method": method, "url": url}}

    @pytest.mark.parametrize("kind", ["batch", "transaction"])
    def test_observation_entries(self, kind: str) -> None:
        bundle = {
            "resourceType": "Bundle",
            "type": kind,
            "entry": [self.entry(obs()), self.entry(bp_panel(), url="/fhir/R4/Observation")],
        }
        valid(bundle)
        bundle_type, entries = parse_bundle(bundle)
        assert bundle_type == kind
        assert [index for index, _ in entries] == [0, 1]
        assert entries[1][1]["code"]["coding"][0]["code"] == "85354-9"

    def test_empty_bundle(self) -> None:
        assert parse_bundle({"resourceType": "Bundle", "type": "batch"}) == ("batch", [])

    def test_unsupported_entries_are_named(self) -> None:
        bundle = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                self.entry(obs()),
                self.entry(obs(), method="PUT", url="Observation/1"),
                self.entry({"resourceType": "Patient"}, url="Patient"),
                {"resource": obs()},
            ],
        }
        with pytest.raises(FhirInputError) as info:
            parse_bundle(bundle)
        issues = info.value.issues
        assert [i["expression"] for i in issues] == [
            ["Bundle.entry[1]"],
            ["Bundle.entry[2]"],
            ["Bundle.entry[3]"],
        ]
        assert [i["code"] for i in issues] == ["not-supported", "not-supported", "required"]
        assert "entry 1" in issues[0]["diagnostics"]
        assert "PUT" in issues[0]["diagnostics"]

    @pytest.mark.parametrize("kind", ["searchset", "collection", "document", None])
    def test_unsupported_bundle_type(self, kind: str | None) -> None:
        with pytest.raises(FhirInputError) as info:
            parse_bundle({"resourceType": "Bundle", "type": kind})
        assert info.value.issues[0]["code"] == "not-supported"

    def test_not_a_bundle(self) -> None:
        with pytest.raises(FhirInputError):
            parse_bundle(obs())


@dataclass(frozen=True)
class Reading:
    id: str
    code: str
    value: float
    unit: str
    measured_at: datetime
    status: str = "final"
    session_id: str = "s-1"
    patient_id: str = "p-1"


@dataclass(frozen=True)
class RecordedReading(Reading):
    recorded_at: datetime = MEASURED + timedelta(seconds=5)


class TestObservationResource:
    @pytest.mark.parametrize("vital", list(VitalCode))
    def test_every_vital_validates(self, vital: VitalCode) -> None:
        definition = VITALS[vital]
        resource = valid(
            observation_resource(
                id="r-1",
                patient_id="p-1",
                session_id="s-1",
                code=vital.value,
                value=(definition.low + definition.high) / 2,
                unit=definition.unit,
                measured_at=MEASURED,
                status="final",
            )
        )
        assert resource["meta"]["profile"][0] == VITAL_SIGNS_PROFILE
        assert resource["category"][0]["coding"][0] == {
            "system": OBSERVATION_CATEGORY,
            "code": "vital-signs",
            "display": "Vital Signs",
        }
        assert resource["code"]["coding"][0] == {
            "system": LOINC,
            "code": definition.loinc,
            "display": definition.display,
        }
        assert resource["valueQuantity"]["system"] == UCUM
        assert resource["valueQuantity"]["code"] == definition.unit

    def test_heart_rate_fields(self) -> None:
        resource = observation_resource(
            id="r-1",
            patient_id="p-1",
            session_id="s-1",
            code="heart_rate",
            value=72.0,
            unit="/min",
            measured_at=datetime(2024, 5, 1, 10, 15, 30, tzinfo=timezone(timedelta(hours=2))),
            status="entered-in-error",
            issued=datetime(2024, 5, 1, 8, 16, tzinfo=UTC),
        )
        assert resource == valid(resource)
        assert resource["id"] == "r-1"
        assert resource["status"] == "entered-in-error"
        assert resource["meta"]["profile"] == [
            VITAL_SIGNS_PROFILE,
            "http://hl7.org/fhir/StructureDefinition/heartrate",
        ]
        assert resource["subject"] == {"reference": "Patient/p-1"}
        assert resource["encounter"] == {"reference": "Encounter/s-1"}
        assert resource["effectiveDateTime"] == "2024-05-01T08:15:30Z"
        assert resource["issued"] == "2024-05-01T08:16:00Z"
        assert resource["valueQuantity"] == {
            "value": 72.0,
            "unit": "/min",
            "system": UCUM,
            "code": "/min",
        }

    def test_spo2_carries_both_loinc_codes(self) -> None:
        resource = observation_resource(
            id="r-2",
            patient_id="p-1",
            session_id="s-1",
            code="spo2",
            value=97,
            unit="%",
            measured_at=MEASURED,
            status="final",
        )
        assert [c["code"] for c in resource["code"]["coding"]] == ["59408-5", "2708-6"]
        assert resource["meta"]["profile"][1].endswith("/oxygensat")

    def test_emitted_observations_parse_back(self) -> None:
        resource = observation_resource(
            id="r-3",
            patient_id="p-1",
            session_id="s-1",
            code="temperature",
            value=37.1,
            unit="Cel",
            measured_at=MEASURED,
            status="final",
        )
        parsed = parse_observation(resource)
        assert parsed.readings[0].code == "temperature"
        assert parsed.readings[0].value == 37.1
        assert parsed.measured_at == MEASURED
        panel = bp_panel_resource(
            id="bp-1",
            patient_id="p-1",
            session_id="s-1",
            systolic=120,
            diastolic=80,
            measured_at=MEASURED,
            status="final",
        )
        assert [(r.code, r.value) for r in parse_observation(panel).readings] == [
            ("systolic_bp", 120.0),
            ("diastolic_bp", 80.0),
        ]

    def test_fractional_seconds(self) -> None:
        moment = datetime(2024, 5, 1, 8, 15, 30, 250000, tzinfo=UTC)
        assert fhir_instant(moment) == "2024-05-01T08:15:30.250000Z"

    def test_refuses_bad_inputs(self) -> None:
        base: dict[str, Any] = {
            "id": "r",
            "patient_id": "p",
            "session_id": "s",
            "code": "heart_rate",
            "value": 70.0,
            "unit": "/min",
            "measured_at": MEASURED,
            "status": "final",
        }
        observation_resource(**base)
        for change in (
            {"code": "weight"},
            {"status": "done"},
            {"value": float("nan")},
            {"measured_at": datetime(2024, 5, 1)},
        ):
            with pytest.raises(ValueError, match=r".+"):
                observation_resource(**{**base, **change})


class TestBpPanel:
    def test_panel_shape(self) -> None:
        panel = valid(
            bp_panel_resource(
                id="bp-r-1",
                patient_id="p-1",
                session_id="s-1",
                systolic=128.0,
                diastolic=82.0,
                measured_at=MEASURED,
                status="final",
            )
        )
        assert panel["code"]["coding"][0]["code"] == "85354-9"
        assert panel["meta"]["profile"] == [VITAL_SIGNS_PROFILE, BP_PROFILE]
        assert "valueQuantity" not in panel
        assert [c["code"]["coding"][0]["code"] for c in panel["component"]] == [
            "8480-6",
            "8462-4",
        ]
        assert [c["valueQuantity"]["value"] for c in panel["component"]] == [128.0, 82.0]
        assert {c["valueQuantity"]["code"] for c in panel["component"]} == {"mm[Hg]"}


class TestGroupForFhir:
    def test_pairs_systolic_and_diastolic(self) -> None:
        later = MEASURED + timedelta(minutes=5)
        readings = [
            Reading("hr-1", "heart_rate", 70, "/min", MEASURED),
            Reading("dia-1", "diastolic_bp", 82, "mm[Hg]", MEASURED),
            Reading("sys-1", "systolic_bp", 128, "mm[Hg]", MEASURED),
            Reading("sys-2", "systolic_bp", 131, "mm[Hg]", later),  # no partner
            Reading("dia-3", "diastolic_bp", 80, "mm[Hg]", later, session_id="s-2"),
            Reading("sys-4", "systolic_bp", 125, "mm[Hg]", later, status="entered-in-error"),
            Reading("dia-4", "diastolic_bp", 85, "mm[Hg]", later, status="entered-in-error"),
        ]
        resources = [valid(r) for r in group_for_fhir(readings)]
        assert [r["id"] for r in resources] == ["hr-1", "bp-sys-1", "sys-2", "dia-3", "bp-sys-4"]
        panel = resources[1]
        assert [c["valueQuantity"]["value"] for c in panel["component"]] == [128, 82]
        assert panel["effectiveDateTime"] == "2024-05-01T08:15:30Z"
        assert resources[4]["status"] == "entered-in-error"
        assert resources[3]["encounter"] == {"reference": "Encounter/s-2"}

    def test_same_instant_in_different_offsets_pairs(self) -> None:
        elsewhere = MEASURED.astimezone(ZoneInfo("America/New_York"))
        readings = [
            Reading("sys", "systolic_bp", 120, "mm[Hg]", MEASURED),
            Reading("dia", "diastolic_bp", 80, "mm[Hg]", elsewhere),
        ]
        assert [r["id"] for r in group_for_fhir(readings)] == ["bp-sys"]

    def test_two_pairs_at_one_time_pair_in_order(self) -> None:
        readings = [
            Reading("s1", "systolic_bp", 120, "mm[Hg]", MEASURED),
            Reading("s2", "systolic_bp", 122, "mm[Hg]", MEASURED),
            Reading("d1", "diastolic_bp", 80, "mm[Hg]", MEASURED),
            Reading("d2", "diastolic_bp", 81, "mm[Hg]", MEASURED),
        ]
        panels = group_for_fhir(readings)
        assert [p["id"] for p in panels] == ["bp-s1", "bp-s2"]
        assert [p["component"][1]["valueQuantity"]["value"] for p in panels] == [80, 81]

    def test_issued_from_recorded_at(self) -> None:
        readings = [
            RecordedReading("sys", "systolic_bp", 120, "mm[Hg]", MEASURED),
            RecordedReading("dia", "diastolic_bp", 80, "mm[Hg]", MEASURED),
            RecordedReading("t", "temperature", 36.8, "Cel", MEASURED),
        ]
        resources = group_for_fhir(readings)
        assert [r["issued"] for r in resources] == ["2024-05-01T08:15:35Z"] * 2

    def test_empty(self) -> None:
        assert group_for_fhir([]) == []


class TestBundles:
    def test_searchset(self) -> None:
        resources = group_for_fhir(
            [
                Reading("sys", "systolic_bp", 120, "mm[Hg]", MEASURED),
                Reading("dia", "diastolic_bp", 80, "mm[Hg]", MEASURED),
                Reading("hr", "heart_rate", 64, "/min", MEASURED),
            ]
        )
        bundle = valid(
            searchset_bundle(
                resources,
                self_url="https://vigil.example/fhir/R4/Observation?patient=p-1",
                next_url="https://vigil.example/fhir/R4/Observation?patient=p-1&_cursor=abc",
                base_url="https://vigil.example/fhir/R4/",
            )
        )
        assert bundle["type"] == "searchset"
        assert [link["relation"] for link in bundle["link"]] == ["self", "next"]
        assert [e["fullUrl"] for e in bundle["entry"]] == [
            "https://vigil.example/fhir/R4/Observation/bp-sys",
            "https://vigil.example/fhir/R4/Observation/hr",
        ]
        assert {e["search"]["mode"] for e in bundle["entry"]} == {"match"}

    def test_empty_searchset(self) -> None:
        bundle = valid(
            searchset_bundle([], self_url="https://x/fhir/R4/Observation", next_url=None)
        )
        assert "entry" not in bundle
        assert bundle["link"] == [{"relation": "self", "url": "https://x/fhir/R4/Observation"}]

    def hr(self, id: str) -> dict[str, Any]:
        return observation_resource(
            id=id,
            patient_id="p-1",
            session_id="s-1",
            code="heart_rate",
            value=70,
            unit="/min",
            measured_at=MEASURED,
            status="final",
        )

    def test_batch_response(self) -> None:
        bundle = valid(
            batch_response_bundle(
                [
                    EntryResponse.created(self.hr("o-1")),
                    EntryResponse.created(self.hr("o-2"), status_code=200),
                    EntryResponse.failed(
                        422,
                        [
                            {
                                "code": "value",
                                "diagnostics": "heart_rate of 400 /min is outside 0-350",
                                "expression": ["Bundle.entry[2].resource.valueQuantity.value"],
                            }
                        ],
                    ),
                ]
            )
        )
        assert bundle["type"] == "batch-response"
        responses = [e["response"] for e in bundle["entry"]]
        assert [r["status"] for r in responses] == [
            "201 Created",
            "200 OK",
            "422 Unprocessable Entity",
        ]
        assert responses[0]["location"] == "Observation/o-1"
        assert bundle["entry"][0]["resource"]["id"] == "o-1"
        outcome = responses[2]["outcome"]
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["severity"] == "error"
        assert "resource" not in bundle["entry"][2]

    def test_transaction_response(self) -> None:
        bundle = valid(
            transaction_response_bundle(
                [EntryResponse.created(self.hr("o-1")), EntryResponse.created(self.hr("o-2"))]
            )
        )
        assert bundle["type"] == "transaction-response"
        assert [e["response"]["status"] for e in bundle["entry"]] == ["201 Created"] * 2

    def test_transaction_response_refuses_failures(self) -> None:
        with pytest.raises(ValueError, match="successes"):
            transaction_response_bundle([EntryResponse.failed(400, [{"code": "invalid"}])])


class TestOperationOutcome:
    def test_from_input_error(self) -> None:
        with pytest.raises(FhirInputError) as info:
            parse_observation(obs(code=loinc("8480-6"), valueQuantity=quantity(120, "%")))
        outcome = valid(operation_outcome(info.value.issues))
        [issue] = outcome["issue"]
        assert issue["severity"] == "error"
        assert issue["code"] == "value"
        assert issue["expression"] == ["Observation.valueQuantity.code"]

    def test_defaults_and_empty(self) -> None:
        outcome = valid(operation_outcome([{"diagnostics": "boom", "details": {"text": "x"}}]))
        assert outcome["issue"][0] == {
            "severity": "error",
            "code": "processing",
            "details": {"text": "x"},
            "diagnostics": "boom",
        }
        assert valid(operation_outcome([]))["issue"][0]["severity"] == "information"

    def test_bad_severity(self) -> None:
        with pytest.raises(ValueError, match="severity"):
            operation_outcome([{"severity": "panic", "code": "invalid"}])


class TestCapabilityAndPatient:
    def test_capability_statement(self) -> None:
        statement = valid(
            capability_statement(
                base_url="https://vigil.example/fhir/R4",
                version="0.1.0",
                published=datetime(2024, 5, 1, tzinfo=UTC),
            )
        )
        assert statement["fhirVersion"] == "4.0.1"
        assert statement["kind"] == "instance"
        assert "json" in statement["format"]
        assert statement["software"] == {"name": "Vigil", "version": "0.1.0"}
        [rest] = statement["rest"]
        assert rest["mode"] == "server"
        assert {i["code"] for i in rest["interaction"]} == {"batch", "transaction"}
        resources = {r["type"]: r for r in rest["resource"]}
        observation = resources["Observation"]
        assert {i["code"] for i in observation["interaction"]} == {"create", "read", "search-type"}
        assert {(p["name"], p["type"]) for p in observation["searchParam"]} == {
            ("patient", "reference"),
            ("subject", "reference"),
            ("encounter", "reference"),
            ("date", "date"),
            ("code", "token"),
        }
        assert [i["code"] for i in resources["Patient"]["interaction"]] == ["read"]
        assert [i["code"] for i in resources["Encounter"]["interaction"]] == ["read"]
        # Declared so that a client (fhirclient) knows to send a bearer token.
        [service] = rest["security"]["service"]
        assert service["coding"][0]["code"] == "OAuth"
        assert "Bearer" in rest["security"]["description"]

    def test_capability_statement_declares_the_safety_searches(self) -> None:
        statement = valid(capability_statement(base_url="http://localhost/fhir/R4", version="1"))
        resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
        for kind in ("AdverseEvent", "MedicationStatement"):
            assert [i["code"] for i in resources[kind]["interaction"]] == ["search-type"]
            assert {(p["name"], p["type"]) for p in resources[kind]["searchParam"]} == {
                ("patient", "reference"),
                ("subject", "reference"),
            }

    def test_capability_statement_default_date(self) -> None:
        statement = valid(capability_statement(base_url="http://localhost/fhir/R4", version="1"))
        assert statement["date"].endswith("Z")

    @pytest.mark.parametrize("sex", ["female", "male", "other", "unknown"])
    def test_patient(self, sex: str) -> None:
        patient = valid(
            patient_resource(
                id="p-1",
                mrn="A-10023",
                given_name="Ana",
                family_name="Ruiz",
                birth_date=date(1984, 3, 9),
                sex=sex,
            )
        )
        assert patient["gender"] == sex
        assert patient["birthDate"] == "1984-03-09"
        assert patient["name"] == [{"use": "official", "family": "Ruiz", "given": ["Ana"]}]
        [identifier] = patient["identifier"]
        assert identifier["value"] == "A-10023"
        assert identifier["type"]["coding"][0]["code"] == "MR"
        assert "system" not in identifier

    def test_patient_with_mrn_system_and_bad_sex(self) -> None:
        patient = patient_resource(
            id="p-1",
            mrn="A-1",
            given_name="A",
            family_name="B",
            birth_date=date(2000, 1, 1),
            sex="male",
            mrn_system="urn:oid:1.2.3.4",
        )
        assert valid(patient)["identifier"][0]["system"] == "urn:oid:1.2.3.4"
        with pytest.raises(ValueError, match="sex"):
            patient_resource(
                id="p-1",
                mrn="A-1",
                given_name="A",
                family_name="B",
                birth_date=date(2000, 1, 1),
                sex="F",
            )


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


class TestDateParam:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("2024", ("eq", utc(2024, 1, 1), utc(2025, 1, 1))),
            ("ge2024-02", ("ge", utc(2024, 2, 1), utc(2024, 3, 1))),
            ("lt2024-12", ("lt", utc(2024, 12, 1), utc(2025, 1, 1))),
            ("le2024-02-29", ("le", utc(2024, 2, 29), utc(2024, 3, 1))),
            ("gt2024-05-01T10:15Z", ("gt", utc(2024, 5, 1, 10, 15), utc(2024, 5, 1, 10, 16))),
            (
                "eq2024-05-01T10:15:30+02:00",
                ("eq", utc(2024, 5, 1, 8, 15, 30), utc(2024, 5, 1, 8, 15, 31)),
            ),
            (
                "ne2024-05-01T10:15:30.5Z",
                (
                    "ne",
                    datetime(2024, 5, 1, 10, 15, 30, 500000, tzinfo=UTC),
                    datetime(2024, 5, 1, 10, 15, 30, 600000, tzinfo=UTC),
                ),
            ),
            ("sa2024-05-01", ("sa", utc(2024, 5, 1), utc(2024, 5, 2))),
            ("eb2024-05-01", ("eb", utc(2024, 5, 1), utc(2024, 5, 2))),
        ],
    )
    def test_valid(self, value: str, expected: tuple[str, datetime, datetime]) -> None:
        result = parse_date_param(value)
        assert result == expected
        assert result[1].tzinfo is UTC
        assert result[2].tzinfo is UTC

    def test_day_in_the_clinic_zone(self) -> None:
        _, start, end = parse_date_param("2024-03-10", day_tz=ZoneInfo("America/New_York"))
        # DST starts that day: a 23-hour day, 05:00Z to 04:00Z.
        assert (start, end) == (utc(2024, 3, 10, 5), utc(2024, 3, 11, 4))

    @pytest.mark.parametrize(
        "value",
        [
            "2024-05-01T10:15:30",  # naive
            "2024-05-01T10:15",
            "yesterday",
            "",
            "2024-13",
            "2024-02-30",
            "xx2024",
            "2024-05-01T25:00Z",
            "2024-05-01 10:15Z",
            "xy2024-05-01",
            "2024-05-01T10:15:30+15:00",
        ],
    )
    def test_invalid(self, value: str) -> None:
        with pytest.raises(FhirInputError) as info:
            parse_date_param(value)
        valid(operation_outcome(info.value.issues))

    @pytest.mark.parametrize(
        ("prefix", "expected"),
        [
            ("eq", [False, True, True, False]),
            ("ne", [True, False, False, True]),
            ("lt", [True, False, False, False]),
            ("eb", [True, False, False, False]),
            ("le", [True, True, True, False]),
            ("gt", [False, False, False, True]),
            ("sa", [False, False, False, True]),
            ("ge", [False, True, True, True]),
        ],
    )
    def test_matching(self, prefix: str, expected: list[bool]) -> None:
        _, start, end = parse_date_param(f"{prefix}2024-05-01")
        moments = [
            utc(2024, 4, 30, 23, 59, 59),
            utc(2024, 5, 1),
            utc(2024, 5, 1, 23, 59, 59),
            utc(2024, 5, 2),
        ]
        assert [date_matches(prefix, start, end, t) for t in moments] == expected

    def test_ap_widens_by_a_tenth_of_the_gap_to_now(self) -> None:
        now = utc(2024, 5, 11)  # ten days after the day searched
        prefix, start, end = parse_date_param("ap2024-05-01", now=now)
        assert prefix == "eq"
        # The gap is ten days (to the day's start): one day on each side.
        assert (start, end) == (utc(2024, 4, 30), utc(2024, 5, 3))

    @pytest.mark.parametrize(
        ("value", "tz"),
        [
            ("ge9999-12-31", UTC),
            ("gt9999-12-31", ZoneInfo("America/New_York")),
            ("9999", UTC),
            ("9999-12", ZoneInfo("Pacific/Kiritimati")),
            ("le9999-12-31T23:59:59-14:00", UTC),
            ("lt0001-01-01", ZoneInfo("Pacific/Kiritimati")),
            ("ap9999-12-31", UTC),
            ("ap0001-01-01", UTC),
        ],
    )
    def test_the_ends_of_the_calendar_are_clamped_not_an_overflow(
        self, value: str, tz: ZoneInfo
    ) -> None:
        prefix, start, end = parse_date_param(value, day_tz=tz, now=utc(2026, 12, 1))
        assert EARLIEST <= start <= end <= LATEST
        # Nothing measured now is after the end of time, or at or after 9999.
        date_matches(prefix, start, end, utc(2026, 12, 1))
        if value.startswith(("ge9999", "gt9999")):
            assert not date_matches(prefix, start, end, utc(2026, 12, 1))

    @pytest.mark.parametrize(
        ("prefix", "bounds"),
        [
            ("eq", DateBounds(utc(2024, 5, 1), utc(2024, 5, 2))),
            ("ne", DateBounds(utc(2024, 5, 1), utc(2024, 5, 2), outside=True)),
            ("lt", DateBounds(None, utc(2024, 5, 1))),
            ("eb", DateBounds(None, utc(2024, 5, 1))),
            ("le", DateBounds(None, utc(2024, 5, 2))),
            ("gt", DateBounds(None, utc(2024, 5, 2), outside=True)),
            ("sa", DateBounds(None, utc(2024, 5, 2), outside=True)),
            ("ge", DateBounds(utc(2024, 5, 1), None)),
        ],
    )
    def test_each_prefix_is_one_set_of_bounds(self, prefix: str, bounds: DateBounds) -> None:
        # The bounds the SQL search is built from (api.fhir.service._date_condition).
        assert date_bounds(prefix, utc(2024, 5, 1), utc(2024, 5, 2)) == bounds

    @pytest.mark.parametrize("prefix", ["eq", "ne", "lt", "eb", "le", "gt", "sa", "ge"])
    def test_an_end_at_the_end_of_time_is_no_upper_bound(self, prefix: str) -> None:
        bounds = date_bounds(prefix, utc(2024, 5, 1), LATEST)
        assert bounds.upper == (utc(2024, 5, 1) if prefix in ("lt", "eb") else None)
        # Nothing is after the end of time; everything is before it.
        moments = [EARLIEST, utc(2024, 4, 30), utc(2024, 5, 1), utc(9999, 12, 31), LATEST]
        expected = {
            "eq": [False, False, True, True, True],
            "ne": [True, True, False, False, False],
            "lt": [True, True, False, False, False],
            "eb": [True, True, False, False, False],
            "le": [True, True, True, True, True],
            "gt": [False, False, False, False, False],
            "sa": [False, False, False, False, False],
            "ge": [False, False, True, True, True],
        }[prefix]
        assert [date_matches(prefix, utc(2024, 5, 1), LATEST, t) for t in moments] == expected

    def test_unknown_prefix_in_matching(self) -> None:
        with pytest.raises(ValueError, match="prefix"):
            date_matches("xx", utc(2024, 1, 1), utc(2024, 1, 2), utc(2024, 1, 1))


class TestParseFhirDatetime:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("2024-05-01T10:15:30Z", utc(2024, 5, 1, 10, 15, 30)),
            ("2024-05-01T10:15:30.123456789-04:00", datetime(2024, 5, 1, 14, 15, 30, 123456, UTC)),
            ("2024-05-01T10:15+01:00", utc(2024, 5, 1, 9, 15)),
        ],
    )
    def test_valid(self, value: str, expected: datetime) -> None:
        assert parse_fhir_datetime(value) == expected

    @pytest.mark.parametrize(
        "value", ["2024", "2024-05-01", "2024-05-01T10:15:30", "2024-05-01T10:15:30+2", "now"]
    )
    def test_invalid(self, value: str) -> None:
        with pytest.raises(ValueError, match=r".+"):
            parse_fhir_datetime(value)


def test_the_validator_really_validates() -> None:
    with pytest.raises(ValueError, match="validation error"):
        valid({"resourceType": "Observation", "status": "final"})
    with pytest.raises(ValueError, match="validation error"):
        valid({**obs(), "effectiveDateTime": "2024-05-01T10:15:30"})
