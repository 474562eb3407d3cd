"""Validate what Vigil emits as FHIR R4 (4.0.1), with two independent model sets.

- ``fhir.resources`` 8.x (pydantic; primitives checked by regex, unknown keys refused) ships R5
  at its top level and R4B under ``fhir.resources.R4B``; no 7.x/8.x release carries R4 itself,
  and 6.x (the last with R4) needs pydantic 1, which the app cannot share a process with.
- ``fhirclient`` 4.x models are generated from FHIR 4.0.1 itself, strict by default: a missing
  required element (``Encounter.class``), an unknown key, or a wrong type raises.

R4B differs from R4 in none of the elements Vigil emits, but only the 4.0.1 models prove it;
so every resource goes through both.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient
from fhirclient.models.fhirelementfactory import FHIRElementFactory

R4B_MODELS: dict[str, Any] = {
    "Bundle": Bundle,
    "CapabilityStatement": CapabilityStatement,
    "Encounter": Encounter,
    "Observation": Observation,
    "OperationOutcome": OperationOutcome,
    "Patient": Patient,
}


def r4(resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` if it is valid FHIR R4 (raises otherwise)."""
    kind = resource["resourceType"]
    R4B_MODELS[kind].model_validate(resource)
    FHIRElementFactory.instantiate(kind, resource)  # strict: raises FHIRValidationError
    return resource
