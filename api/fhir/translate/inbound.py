"""Vital-sign Observations and batch/transaction Bundles in (SPEC §8, DOMAIN.md).

:func:`parse_observation` checks what Vigil needs from an Observation and raises
:class:`FhirInputError` carrying OperationOutcome issues (each with a FHIRPath ``expression``)
for everything wrong at once; :func:`parse_bundle` checks a Bundle's entries.

Values and units are returned *as sent* (units spelled the UCUM way); conversion and the
physical-range check stay in :func:`api.clinical.vitals.normalize`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api.clinical.future import DEFAULT_FUTURE_TOLERANCE_SECONDS, future_problem
from api.clinical.vitals import (
    VITALS,
    VitalCode,
    accepted_units,
    accepts_unit,
    canonical_unit_spelling,
)
from api.fhir.translate.codes import (
    ACCEPTED_STATUSES,
    BP_PANEL_LOINC,
    BP_PANEL_LOINCS,
    LOINC,
    LOINC_TO_VITAL,
    UCUM,
)
from api.fhir.translate.outcome import FhirInputError, issue, shown
from api.fhir.translate.times import parse_fhir_datetime

_BP_COMPONENTS = frozenset({VitalCode.systolic_bp, VitalCode.diastolic_bp, VitalCode.mean_bp})


@dataclass(frozen=True)
class FhirReading:
    code: str  # VitalCode value
    value: float  # as sent
    unit: str  # as sent, spelled the UCUM way
    measured_at: datetime  # aware, UTC
    value_path: str = ""  # FHIRPath of its valueQuantity, to name it in later errors


@dataclass(frozen=True)
class InboundObservation:
    subject_patient_id: str | None
    encounter_session_id: str | None
    measured_at: datetime  # aware, UTC
    readings: list[FhirReading]  # empty when the value is absent (dataAbsentReason)
    identifier: str | None  # first identifier, "system|value" (or "value"): an external_id
    status: str = "final"  # final, amended or corrected as sent


_REFERENCE_RE = re.compile(
    r"^(?P<base>.*?)/?(?P<type>[A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$"
)
_ABSOLUTE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class _Issues:
    """Collects issues so one response names every problem."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.malformed = False  # a 400 (a reference to another server), not a 422

    def add(self, code: str, diagnostics: str, expression: str) -> None:
        self.items.append(issue(code, diagnostics, [expression]))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _loinc_codes(concept: object) -> list[str]:
    if not isinstance(concept, Mapping):
        return []
    codings = concept.get("coding")
    if not isinstance(codings, list):
        return []
    return [
        str(c["code"])
        for c in codings
        if isinstance(c, Mapping) and c.get("system") == LOINC and isinstance(c.get("code"), str)
    ]


def _quantity(
    quantity: object, vital: VitalCode, path: str, issues: _Issues
) -> tuple[float, str] | None:
    """(value, UCUM unit) of a valueQuantity accepted for ``vital``; else issues, None."""
    if not isinstance(quantity, Mapping):
        issues.add("structure", "valueQuantity must be an object", path)
        return None
    raw_value = quantity.get("value")
    value: float | None = None
    if raw_value is None:
        issues.add("required", "valueQuantity.value is required", f"{path}.value")
    elif _is_number(raw_value) and math.isfinite(raw_value):
        value = float(raw_value)
    else:
        issues.add(
            "value",
            f"valueQuantity.value {shown(raw_value)} is not a finite number",
            f"{path}.value",
        )
    ok = value is not None
    if quantity.get("comparator") is not None:
        issues.add(
            "value",
            f"valueQuantity.comparator {shown(quantity.get('comparator'))}: Vigil records "
            "measured values only, not a bound (send the value the device measured)",
            f"{path}.comparator",
        )
        ok = False
    system = quantity.get("system")
    if system is not None and system != UCUM:
        issues.add("value", f"units must be UCUM ({UCUM}), not {shown(system)}", f"{path}.system")
        ok = False
    field = "code" if quantity.get("code") not in (None, "") else "unit"
    sent = quantity.get(field)
    if sent in (None, ""):
        issues.add("required", "valueQuantity needs a UCUM code (or unit)", f"{path}.code")
        return None
    if not isinstance(sent, str):
        issues.add("value", f"valueQuantity.{field} must be a string", f"{path}.{field}")
        return None
    unit = canonical_unit_spelling(sent)
    if not accepts_unit(vital, unit):
        accepted = accepted_units(vital)
        issues.add(
            "value",
            f"unit {sent!r} is not accepted for {vital.value}; use one of {accepted}",
            f"{path}.{field}",
        )
        return None
    if not ok or value is None:
        return None
    return value, unit


_VALUE_KEYS = (
    "valueCodeableConcept",
    "valueString",
    "valueBoolean",
    "valueInteger",
    "valueRange",
    "valueRatio",
    "valueSampledData",
    "valueTime",
    "valueDateTime",
    "valuePeriod",
)


def _value_of(
    element: Mapping[str, Any], vital: VitalCode, path: str, issues: _Issues
) -> tuple[float, str, str] | None:
    """(value, unit, valueQuantity path) of an Observation or component; None when absent."""
    if "valueQuantity" in element:
        quantity = _quantity(element["valueQuantity"], vital, f"{path}.valueQuantity", issues)
        return None if quantity is None else (*quantity, f"{path}.valueQuantity")
    other = next((k for k in _VALUE_KEYS if k in element), None)
    if other is not None:
        issues.add("invalid", f"{other} is not supported: send valueQuantity", f"{path}.{other}")
    elif "dataAbsentReason" not in element:
        issues.add(
            "required", "valueQuantity (or dataAbsentReason) is required", f"{path}.value[x]"
        )
    return None


def _status(resource: Mapping[str, Any], path: str, issues: _Issues) -> str:
    status = resource.get("status")
    if status is None:
        issues.add("required", "status is required", f"{path}.status")
    elif not isinstance(status, str) or status not in ACCEPTED_STATUSES:
        issues.add(
            "value",
            f"status {shown(status)} is not a result that stands: Vigil records only final, "
            "amended or corrected readings; send the reading again once it is final",
            f"{path}.status",
        )
    return status if isinstance(status, str) else ""


def _modifier_extensions(resource: Mapping[str, Any], path: str, issues: _Issues) -> None:
    """Every ``modifierExtension`` anywhere in the resource: Vigil knows none, and a modifier
    it does not understand may change what the element means, so it must refuse it (FHIR R4
    §2.4.1.1). Walked without recursion: a deeply nested body must not exhaust the stack."""
    stack: list[tuple[object, str]] = [(resource, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, Mapping):
            for key, child in node.items():
                if key == "modifierExtension" and child not in (None, []):
                    urls = (
                        [e.get("url") for e in child if isinstance(e, Mapping)]
                        if isinstance(child, list)
                        else []
                    )
                    named = ", ".join(shown(u) for u in urls if isinstance(u, str))
                    issues.add(
                        "extension",
                        f"unknown modifierExtension{' ' + named if named else ''}: Vigil "
                        "cannot tell how it changes the reading, so it does not store it",
                        f"{where}.modifierExtension",
                    )
                elif isinstance(child, Mapping | list):
                    stack.append((child, f"{where}.{key}"))
        elif isinstance(node, list):
            for index, child in enumerate(node):
                if isinstance(child, Mapping | list):
                    stack.append((child, f"{where}[{index}]"))


def _vital_code(resource: Mapping[str, Any], path: str, issues: _Issues) -> VitalCode | str | None:
    """The Vigil code, ``BP_PANEL_LOINC`` for a BP panel, or None (issue recorded)."""
    if "code" not in resource:
        issues.add("required", "code is required", f"{path}.code")
        return None
    codes = _loinc_codes(resource["code"])
    found: set[VitalCode | str] = set()
    for loinc in codes:
        if loinc in BP_PANEL_LOINCS:
            found.add(BP_PANEL_LOINC)
        elif loinc in LOINC_TO_VITAL:
            found.add(LOINC_TO_VITAL[loinc])
    if len(found) == 1:
        return found.pop()
    if found:
        issues.add(
            "code-invalid", f"LOINC codes {codes} name different vital signs", f"{path}.code"
        )
        return None
    supported = sorted({*LOINC_TO_VITAL, *BP_PANEL_LOINCS})
    seen = f"LOINC codes {codes}" if codes else "no LOINC (http://loinc.org) coding"
    issues.add(
        "code-invalid",
        f"{seen}: not a vital sign Vigil records; supported: {supported}",
        f"{path}.code",
    )
    return None


def _effective(
    resource: Mapping[str, Any], path: str, issues: _Issues, future_tolerance_seconds: int
) -> datetime | None:
    if "effectiveDateTime" in resource:
        key, raw = "effectiveDateTime", resource["effectiveDateTime"]
    elif "effectiveInstant" in resource:
        key, raw = "effectiveInstant", resource["effectiveInstant"]
    elif "effectivePeriod" in resource:
        period = resource["effectivePeriod"]
        key = "effectivePeriod.start"
        raw = period.get("start") if isinstance(period, Mapping) else None
        if raw is None:
            issues.add("required", "effectivePeriod.start is required", f"{path}.{key}")
            return None
    else:
        issues.add(
            "required",
            "effectiveDateTime (or effectivePeriod.start) is required",
            f"{path}.effective[x]",
        )
        return None
    if not isinstance(raw, str):
        issues.add("value", f"{key} must be a string", f"{path}.{key}")
        return None
    try:
        moment = parse_fhir_datetime(raw)
    except ValueError as exc:
        issues.add("value", str(exc), f"{path}.{key}")
        return None
    future = future_problem(moment, tolerance_seconds=future_tolerance_seconds)
    if future is not None:
        issues.add("value", f"{key} {shown(raw)}: {future}", f"{path}.{key}")
        return None
    return moment


def _reference_id(
    resource: Mapping[str, Any],
    key: str,
    resource_type: str,
    path: str,
    issues: _Issues,
    base_url: str | None,
) -> str | None:
    """The id of a literal reference ``{resource_type}/{id}``: relative, or absolute on this
    server's base (``base_url``, e.g. ``https://vigil.example/fhir/R4``). An absolute reference
    to another server is malformed for Vigil (400): it names a record Vigil does not hold."""
    element = resource.get(key)
    if element is None:
        return None
    reference = element.get("reference") if isinstance(element, Mapping) else None
    if not isinstance(reference, str):
        issues.add(
            "not-supported",
            f"{key} must be a literal reference {resource_type}/{{id}}",
            f"{path}.{key}.reference",
        )
        return None
    text = reference.strip()
    match = _REFERENCE_RE.match(text)
    if match is None or match["type"] != resource_type:
        issues.add(
            "invalid",
            f"{key}.reference {shown(reference)} is not a {resource_type}/{{id}} reference",
            f"{path}.{key}.reference",
        )
        return None
    base = match["base"].rstrip("/")
    if base:
        ours = (base_url or "").rstrip("/")
        if not _ABSOLUTE_RE.match(base) or base != ours:
            issues.malformed = True
            where = f"this server's base {ours}" if ours else "a relative reference"
            issues.add(
                "invalid",
                f"{key}.reference {shown(reference, 120)} names another server; use "
                f"{resource_type}/{{id}} or {where}",
                f"{path}.{key}.reference",
            )
            return None
    return match["id"]


def _identifier(resource: Mapping[str, Any]) -> str | None:
    identifiers = resource.get("identifier")
    if not isinstance(identifiers, list) or not identifiers:
        return None
    first = identifiers[0]
    if not isinstance(first, Mapping) or not first.get("value"):
        return None
    system = first.get("system")
    return f"{system}|{first['value']}" if system else str(first["value"])


def _panel_values(
    resource: Mapping[str, Any], path: str, issues: _Issues
) -> list[tuple[VitalCode, float, str, str]]:
    components = resource.get("component")
    if not isinstance(components, list) or not components:
        issues.add(
            "required",
            "a blood pressure panel needs systolic (8480-6) and diastolic (8462-4) components",
            f"{path}.component",
        )
        return []
    values: list[tuple[VitalCode, float, str, str]] = []
    seen: set[VitalCode] = set()
    for index, component in enumerate(components):
        component_path = f"{path}.component[{index}]"
        if not isinstance(component, Mapping):
            issues.add("structure", "component must be an object", component_path)
            continue
        vitals = {LOINC_TO_VITAL.get(c) for c in _loinc_codes(component.get("code"))}
        vital = next((v for v in vitals if v in _BP_COMPONENTS), None)
        if vital is None:
            continue  # other components (e.g. cuff size) are not readings
        if vital in seen:
            issues.add(
                "invalid", f"{vital.value} appears twice in the panel", f"{component_path}.code"
            )
            continue
        seen.add(vital)
        value = _value_of(component, vital, component_path, issues)
        if value is not None:
            values.append((vital, *value))
    for required in (VitalCode.systolic_bp, VitalCode.diastolic_bp):
        if required not in seen:
            loinc = VITALS[required].loinc
            issues.add(
                "required",
                f"the blood pressure panel has no {required.value} component ({loinc})",
                f"{path}.component",
            )
    return values


def parse_observation(
    resource: Mapping[str, Any],
    *,
    path: str = "Observation",
    base_url: str | None = None,
    future_tolerance_seconds: int = DEFAULT_FUTURE_TOLERANCE_SECONDS,
) -> InboundObservation:
    """Read a vital-sign Observation; raise :class:`FhirInputError` naming every problem.

    ``path`` prefixes the FHIRPath expressions (``Bundle.entry[2].resource`` inside a Bundle).
    ``base_url`` is this server's FHIR base: absolute references on it are accepted.
    ``future_tolerance_seconds``: how far past the clock a time may be (SPEC §1; the
    configured ``future_tolerance_seconds``).
    """
    if not isinstance(resource, Mapping):
        raise FhirInputError.single("structure", "an Observation must be a JSON object", [path])
    if resource.get("resourceType") != "Observation":
        raise FhirInputError.single(
            "invalid",
            f"resourceType must be Observation, not {shown(resource.get('resourceType'))}",
            [f"{path}.resourceType"],
        )
    issues = _Issues()
    status = _status(resource, path, issues)
    vital = _vital_code(resource, path, issues)
    measured_at = _effective(resource, path, issues, future_tolerance_seconds)
    subject = _reference_id(resource, "subject", "Patient", path, issues, base_url)
    encounter = _reference_id(resource, "encounter", "Encounter", path, issues, base_url)
    _modifier_extensions(resource, path, issues)

    values: list[tuple[VitalCode, float, str, str]] = []
    if vital == BP_PANEL_LOINC:
        values = _panel_values(resource, path, issues)
    elif isinstance(vital, VitalCode):
        value = _value_of(resource, vital, path, issues)
        values = [] if value is None else [(vital, *value)]

    if issues.items or measured_at is None:
        raise FhirInputError(issues.items, status=400 if issues.malformed else 422)
    return InboundObservation(
        subject_patient_id=subject,
        encounter_session_id=encounter,
        measured_at=measured_at,
        readings=[
            FhirReading(code=v.value, value=n, unit=u, measured_at=measured_at, value_path=p)
            for v, n, u, p in values
        ],
        identifier=_identifier(resource),
        status=status,
    )


def _entry_target(request: object) -> tuple[str, str] | None:
    if not isinstance(request, Mapping):
        return None
    method, url = request.get("method"), request.get("url")
    if not isinstance(method, str) or not isinstance(url, str):
        return None
    return method.upper(), url.strip().rstrip("/").split("?")[0].rsplit("/", 1)[-1]


def parse_bundle(resource: Mapping[str, Any]) -> tuple[str, list[tuple[int, Mapping[str, Any]]]]:
    """Check a batch/transaction Bundle of ``POST Observation`` entries.

    Returns the bundle type and (entry index, Observation) pairs; the Observations themselves
    are checked by :func:`parse_observation` (with ``path=f"Bundle.entry[{i}].resource"``).
    """
    if not isinstance(resource, Mapping) or resource.get("resourceType") != "Bundle":
        raise FhirInputError.single(
            "invalid", "expected a Bundle resource", ["Bundle.resourceType"]
        )
    bundle_type = resource.get("type")
    if bundle_type not in ("batch", "transaction"):
        raise FhirInputError.single(
            "not-supported",
            f"Bundle.type {shown(bundle_type)} is not supported: send batch or transaction",
            ["Bundle.type"],
        )
    entries = resource.get("entry", [])
    if not isinstance(entries, list):
        raise FhirInputError.single("structure", "Bundle.entry must be a list", ["Bundle.entry"])
    issues = _Issues()
    observations: list[tuple[int, Mapping[str, Any]]] = []
    for index, entry in enumerate(entries):
        entry_path = f"Bundle.entry[{index}]"
        target = _entry_target(entry.get("request")) if isinstance(entry, Mapping) else None
        body = entry.get("resource") if isinstance(entry, Mapping) else None
        body_type = body.get("resourceType") if isinstance(body, Mapping) else None
        if target is None:
            issues.add(
                "required", f"entry {index} has no request.method and request.url", entry_path
            )
        elif target != ("POST", "Observation") or body_type != "Observation" or body is None:
            method, url = target
            issues.add(
                "not-supported",
                f"entry {index}: only POST Observation is supported (got {method} {url} "
                f"with a {body_type or 'missing'} resource)",
                entry_path,
            )
        else:
            observations.append((index, body))
    if issues.items:
        raise FhirInputError(issues.items)
    return bundle_type, observations
