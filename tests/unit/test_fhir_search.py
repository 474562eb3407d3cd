"""FHIR search parameters (api/fhir/search.py) and the R4 resources issue 19 added: pure."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.fhir.errors import FhirError
from api.fhir.search import (
    DEFAULT_COUNT,
    MAX_COUNT,
    decode_cursor,
    encode_cursor,
    parse_search,
    unknown_issues,
)
from api.fhir.translate.bundles import searchset_bundle
from api.fhir.translate.inbound import parse_observation
from api.fhir.translate.outcome import FhirInputError, operation_outcome
from api.fhir.translate.resources import encounter_resource
from tests.integrations.fhir_r4 import r4

BASE = "https://vigil.example/fhir/R4"


def search(*pairs: tuple[str, str], strict: bool = False):  # type: ignore[no-untyped-def]
    return parse_search(list(pairs), base_url=BASE, strict=strict)


class TestReferences:
    @pytest.mark.parametrize("value", ["p-1", "Patient/p-1", f"{BASE}/Patient/p-1"])
    def test_forms_of_patient(self, value: str) -> None:
        assert search(("patient", value)).patients == {"p-1"}

    def test_subject_is_an_alias_and_repeats_are_and(self) -> None:
        assert search(("subject", "Patient/p-1")).patients == {"p-1"}
        assert search(("patient", "p-1"), ("subject", "Patient/p-1")).patients == {"p-1"}
        assert search(("patient", "p-1"), ("subject", "p-2")).patients == frozenset()

    def test_comma_is_or(self) -> None:
        assert search(("patient", "p-1,Patient/p-2")).patients == {"p-1", "p-2"}

    @pytest.mark.parametrize(
        "value", ["Group/p-1", "https://other.example/fhir/R4/Patient/p-1", "x/Patient/p-1"]
    )
    def test_another_type_or_server_names_nothing(self, value: str) -> None:
        assert search(("patient", value)).patients == frozenset()

    def test_encounter(self) -> None:
        parsed = search(("encounter", "Encounter/s-1"))
        assert parsed.encounters == {"s-1"}
        assert parsed.patients is None

    def test_patient_or_encounter_is_required(self) -> None:
        with pytest.raises(FhirError) as raised:
            search(("code", "8867-4"))
        assert raised.value.status == 400


class TestPaging:
    def test_defaults(self) -> None:
        parsed = search(("patient", "p"))
        assert (parsed.count, parsed.descending, parsed.summary_count) == (
            DEFAULT_COUNT,
            False,
            False,
        )

    def test_count_sort_and_summary(self) -> None:
        parsed = search(("patient", "p"), ("_count", "1"), ("_sort", "-date"))
        assert (parsed.count, parsed.descending) == (1, True)
        assert search(("patient", "p"), ("_count", "9999")).count == MAX_COUNT
        assert search(("patient", "p"), ("_count", "0")).summary_count
        assert search(("patient", "p"), ("_summary", "count")).summary_count

    @pytest.mark.parametrize(
        ("name", "value"),
        [("_count", "-1"), ("_count", "ten"), ("_count", "1.5"), ("_sort", "code")],
    )
    def test_bad_values_are_400(self, name: str, value: str) -> None:
        with pytest.raises(FhirError) as raised:
            search(("patient", "p"), (name, value))
        assert raised.value.status == 400
        assert raised.value.extra["issue"][0]["expression"] == [name]

    def test_cursor_round_trip(self) -> None:
        key = (datetime(2026, 12, 1, 9, 30, 0, 250000, tzinfo=UTC), "bp-1")
        assert decode_cursor(encode_cursor(key)) == key
        assert search(("patient", "p"), ("_cursor", encode_cursor(key))).after == key

    @pytest.mark.parametrize(
        "cursor", ["x", "bm90IGpzb24", encode_cursor((datetime.now(UTC), "a"))[:5]]
    )
    def test_a_bad_cursor_is_400(self, cursor: str) -> None:
        with pytest.raises(FhirError) as raised:
            search(("patient", "p"), ("_cursor", cursor))
        assert raised.value.status == 400


class TestUnknownParameters:
    def test_listed_as_warnings(self) -> None:
        parsed = search(("patient", "p"), ("value-quantity", "gt1"), ("_elements", "id"))
        assert parsed.unknown == ("value-quantity", "_elements")
        issues = unknown_issues(parsed)
        assert [i["expression"] for i in issues] == [["value-quantity"], ["_elements"]]
        assert {i["severity"] for i in issues} == {"warning"}
        r4(operation_outcome(issues))

    def test_strict_refuses_them(self) -> None:
        with pytest.raises(FhirError) as raised:
            search(("patient", "p"), ("value-quantity", "gt1"), strict=True)
        assert raised.value.status == 400
        assert search(("patient", "p"), strict=True).unknown == ()


class TestSearchset:
    def test_total_and_outcome_entry(self) -> None:
        bundle = r4(
            searchset_bundle(
                [],
                self_url=f"{BASE}/Observation?patient=p",
                next_url=None,
                base_url=BASE,
                total=7,
                outcome=unknown_issues(search(("patient", "p"), ("foo", "1"))),
            )
        )
        assert bundle["total"] == 7
        [entry] = bundle["entry"]
        assert entry["search"]["mode"] == "outcome"


class TestEncounter:
    @pytest.mark.parametrize(
        ("status", "fhir"),
        [
            ("scheduled", "planned"),
            ("checked_in", "arrived"),
            ("dosing", "in-progress"),
            ("monitoring", "in-progress"),
            ("discharged", "finished"),
            ("transferred", "finished"),
            ("cancelled", "cancelled"),
        ],
    )
    def test_statuses(self, status: str, fhir: str) -> None:
        ended = datetime(2026, 12, 1, 11, tzinfo=UTC) if fhir in ("finished", "cancelled") else None
        encounter = r4(
            encounter_resource(
                id="s-1",
                patient_id="p-1",
                status=status,
                scheduled_at=datetime(2026, 12, 1, 9, tzinfo=UTC),
                checked_in_at=None
                if status == "scheduled"
                else datetime(2026, 12, 1, 9, 5, tzinfo=UTC),
                ended_at=ended,
                location="chair-3" if status != "cancelled" else None,
                version=3,
            )
        )
        assert encounter["status"] == fhir
        assert encounter["meta"]["versionId"] == "3"
        assert encounter["period"]["start"] == (
            "2026-12-01T09:00:00Z" if status == "scheduled" else "2026-12-01T09:05:00Z"
        )
        assert ("end" in encounter["period"]) == (ended is not None)

    def test_unknown_status(self) -> None:
        with pytest.raises(ValueError, match="status"):
            encounter_resource(
                id="s",
                patient_id="p",
                status="lost",
                scheduled_at=datetime(2026, 1, 1, tzinfo=UTC),
                checked_in_at=None,
                ended_at=None,
                location=None,
                version=1,
            )


def heart_rate(**extra: object) -> dict[str, object]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": "Patient/p-1"},
        "effectiveDateTime": "2026-12-01T09:00:00Z",
        "valueQuantity": {
            "value": 72,
            "unit": "/min",
            "system": "http://unitsofmeasure.org",
            "code": "/min",
        },
        **extra,
    }


class TestInboundRules:
    @pytest.mark.parametrize("status", ["preliminary", "registered", "unknown", ["final"], 1])
    def test_only_results_that_stand(self, status: object) -> None:
        with pytest.raises(FhirInputError) as raised:
            parse_observation(heart_rate(status=status))
        assert raised.value.issues[0]["expression"] == ["Observation.status"]

    @pytest.mark.parametrize("status", ["final", "amended", "corrected"])
    def test_standing_statuses(self, status: str) -> None:
        assert parse_observation(heart_rate(status=status)).readings[0].value == 72

    def test_comparator(self) -> None:
        resource = heart_rate()
        resource["valueQuantity"] = {**resource["valueQuantity"], "comparator": "<"}  # type: ignore[dict-item]
        with pytest.raises(FhirInputError) as raised:
            parse_observation(resource)
        assert raised.value.issues[0]["expression"] == ["Observation.valueQuantity.comparator"]

    def test_modifier_extensions_anywhere(self) -> None:
        modifier = [{"url": "http://x.example/m", "valueBoolean": True}]
        resource = heart_rate(
            modifierExtension=modifier,
            code={
                "coding": [
                    {"system": "http://loinc.org", "code": "8867-4", "modifierExtension": modifier}
                ]
            },
        )
        with pytest.raises(FhirInputError) as raised:
            parse_observation(resource)
        assert sorted(i["expression"][0] for i in raised.value.issues) == [
            "Observation.code.coding[0].modifierExtension",
            "Observation.modifierExtension",
        ]
        assert parse_observation(heart_rate(modifierExtension=[])).readings

    def test_deep_values_do_not_exhaust_the_stack(self) -> None:
        deep: object = []
        for _ in range(5000):
            deep = [deep]
        with pytest.raises(FhirInputError):
            parse_observation(
                heart_rate(status=deep, extension=deep, valueQuantity={"value": deep})
            )
