"""FHIR R4 translator: vital-sign Observations in, FHIR resources out (SPEC §8, DOMAIN.md).

Pure functions on JSON-shaped dicts: no database, no HTTP. Inbound, :func:`parse_observation`
checks what Vigil needs from an Observation and raises :class:`FhirInputError` carrying
OperationOutcome issues (each with a FHIRPath ``expression``) for everything wrong at once.
Outbound builders take plain values, so any service can call them.

Values and units are returned *as sent* (units spelled the UCUM way); conversion and the
physical-range check stay in :func:`api.clinical.vitals.normalize`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from http import HTTPStatus
from typing import Any, Protocol

from api.clinical.vitals import VITALS, VitalCode, canonical_unit_spelling
from api.types import future_problem

FHIR_VERSION = "4.0.1"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
V2_IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"

_PROFILE_BASE = "http://hl7.org/fhir/StructureDefinition/"
VITAL_SIGNS_PROFILE = _PROFILE_BASE + "vitalsigns"
BP_PROFILE = _PROFILE_BASE + "bp"
# FHIR R4 core vital-signs profiles; systolic, diastolic, mean BP and EtCO2 alone have none.
SPECIFIC_PROFILES: dict[VitalCode, str] = {
    VitalCode.heart_rate: _PROFILE_BASE + "heartrate",
    VitalCode.respiratory_rate: _PROFILE_BASE + "resprate",
    VitalCode.temperature: _PROFILE_BASE + "bodytemp",
    VitalCode.spo2: _PROFILE_BASE + "oxygensat",
}

BP_PANEL_LOINC = "85354-9"
BP_PANEL_LOINCS = frozenset({BP_PANEL_LOINC, "55284-4"})
SPO2_CORE_LOINC = "2708-6"  # core oxygensat profile; VITALS uses 59408-5 (pulse oximetry)

#: LOINC -> Vigil code for single-value vital-sign Observations.
LOINC_TO_VITAL: dict[str, VitalCode] = {d.loinc: d.code for d in VITALS.values()} | {
    SPO2_CORE_LOINC: VitalCode.spo2
}
_BP_COMPONENTS = frozenset({VitalCode.systolic_bp, VitalCode.diastolic_bp, VitalCode.mean_bp})

#: The statuses of a result that stands: only these are readings (SPEC §8). ``preliminary``,
#: ``registered`` and the rest are refused (422), never stored as final.
ACCEPTED_STATUSES = frozenset({"final", "amended", "corrected"})
OBSERVATION_STATUSES = frozenset(
    {
        "registered",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "cancelled",
        "entered-in-error",
        "unknown",
    }
)
_UNIT_TEXT = {"/min": "/min", "mm[Hg]": "mmHg", "%": "%", "Cel": "C", "[degF]": "degF"}
_GENDERS = frozenset({"female", "male", "other", "unknown"})

# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def issue(
    code: str,
    diagnostics: str,
    expression: Sequence[str] | None = None,
    *,
    severity: str = "error",
) -> dict[str, Any]:
    """One OperationOutcome issue (``code`` from the FHIR issue-type value set)."""
    result: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        result["expression"] = list(expression)
    return result


class FhirInputError(ValueError):
    """Input Vigil cannot accept; ``issues`` are OperationOutcome issue dicts."""

    def __init__(self, issues: Sequence[Mapping[str, Any]], *, status: int = 422) -> None:
        self.issues: list[dict[str, Any]] = [dict(i) for i in issues]
        self.status = status  # 400 malformed, 422 not processable
        super().__init__("; ".join(str(i.get("diagnostics", i.get("code"))) for i in issues))

    @classmethod
    def single(
        cls, code: str, diagnostics: str, expression: Sequence[str] | None = None
    ) -> FhirInputError:
        return cls([issue(code, diagnostics, expression)])


# --------------------------------------------------------------------------------------------
# Inbound
# --------------------------------------------------------------------------------------------


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


_DATE_ONLY_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_DATETIME_RE = re.compile(
    r"^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})T(?P<h>\d{2}):(?P<mi>\d{2})"
    r"(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,9}))?)?(?P<tz>Z|[+-]\d{2}:\d{2})?$"
)
_REFERENCE_RE = re.compile(
    r"^(?P<base>.*?)/?(?P<type>[A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$"
)
_ABSOLUTE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def shown(value: object, limit: int = 60) -> str:
    """A value as an error message may quote it: strings and numbers (shortened), else its JSON
    kind. Never ``repr`` of a container: a deeply nested one would exhaust the recursion."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, int | float):
        return repr(value)[:limit]
    if isinstance(value, str):
        text = value if len(value) <= limit else value[: limit - 1] + "…"
        return repr(text)
    return "a JSON object" if isinstance(value, Mapping) else "a JSON array"


def _tz(text: str) -> tzinfo:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    hours, minutes = int(text[1:3]), int(text[4:6])
    if hours > 14 or minutes > 59:
        raise ValueError(f"offset {text} is out of range")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_fhir_datetime(value: str) -> datetime:
    """A FHIR dateTime/instant that has a time and an offset, as an aware UTC datetime.

    Raises ValueError (with a sentence for the user) for date-only values, naive times and
    malformed text.
    """
    text = value.strip()
    if _DATE_ONLY_RE.match(text):
        raise ValueError(f"{value!r} has no time of day; a reading needs a time with an offset")
    match = _DATETIME_RE.match(text)
    if match is None:
        raise ValueError(f"{value!r} is not a FHIR dateTime (YYYY-MM-DDThh:mm:ss+zz:zz)")
    if match["tz"] is None:
        raise ValueError(f"{value!r} has no UTC offset; send Z or +hh:mm")
    micro = int((match["f"] or "0")[:6].ljust(6, "0"))
    local = datetime(
        int(match["y"]),
        int(match["mo"]),
        int(match["d"]),
        int(match["h"]),
        int(match["mi"]),
        int(match["s"] or 0),
        micro,
        tzinfo=_tz(match["tz"]),
    )
    try:
        return local.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        raise ValueError(f"{value!r} is out of range once converted to UTC") from None


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


def _unit_accepted(vital: VitalCode, unit: str) -> bool:
    definition = VITALS[vital]
    return unit == definition.unit or unit in definition.conversions


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
    if not _unit_accepted(vital, unit):
        definition = VITALS[vital]
        accepted = [definition.unit, *definition.conversions]
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


def _effective(resource: Mapping[str, Any], path: str, issues: _Issues) -> datetime | None:
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
    future = future_problem(moment)
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
    resource: Mapping[str, Any], *, path: str = "Observation", base_url: str | None = None
) -> InboundObservation:
    """Read a vital-sign Observation; raise :class:`FhirInputError` naming every problem.

    ``path`` prefixes the FHIRPath expressions (``Bundle.entry[2].resource`` inside a Bundle).
    ``base_url`` is this server's FHIR base: absolute references on it are accepted.
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
    measured_at = _effective(resource, path, issues)
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


# --------------------------------------------------------------------------------------------
# Outbound
# --------------------------------------------------------------------------------------------


def fhir_instant(moment: datetime) -> str:
    """An aware datetime as a FHIR instant in UTC (``2024-05-01T10:00:00Z``)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("FHIR times must be timezone-aware")
    spec = "microseconds" if moment.microsecond else "seconds"
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec=spec) + "Z"


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
    return {"value": value, "unit": _UNIT_TEXT.get(unit, unit), "system": UCUM, "code": unit}


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
    """Index of each systolic paired with a diastolic of the same session, time and status."""
    waiting: dict[tuple[str, datetime, str, str], list[int]] = {}
    pairs: dict[int, int] = {}
    partner = {"systolic_bp": "diastolic_bp", "diastolic_bp": "systolic_bp"}
    for index, reading in enumerate(readings):
        if reading.code not in partner or reading.unit != "mm[Hg]":
            continue
        key = (reading.session_id, reading.measured_at, reading.status, partner[reading.code])
        candidates = waiting.get(key)
        if candidates:
            other = candidates.pop(0)
            systolic, diastolic = (
                (index, other) if reading.code == "systolic_bp" else (other, index)
            )
            pairs[systolic] = diastolic
        else:
            own = (reading.session_id, reading.measured_at, reading.status, reading.code)
            waiting.setdefault(own, []).append(index)
    return pairs


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


def searchset_bundle(
    resources: Sequence[Mapping[str, Any]],
    *,
    self_url: str,
    next_url: str | None,
    base_url: str | None = None,
    total: int | None = None,
    outcome: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A searchset Bundle: ``total`` (every match, not this page), the ``next`` link when there
    is more, and, with ``outcome`` issues, an OperationOutcome entry (search mode ``outcome``)
    saying what the server did not use (unknown parameters).

    With ``base_url`` (e.g. ``https://host/fhir/R4``) each entry gets its ``fullUrl``.
    """
    links = [{"relation": "self", "url": self_url}]
    if next_url is not None:
        links.append({"relation": "next", "url": next_url})
    entries: list[dict[str, Any]] = []
    for resource in resources:
        entry: dict[str, Any] = {}
        if base_url is not None:
            entry["fullUrl"] = f"{base_url.rstrip('/')}/{resource['resourceType']}/{resource['id']}"
        entry["resource"] = dict(resource)
        entry["search"] = {"mode": "match"}
        entries.append(entry)
    if outcome:
        entries.append(
            {"resource": operation_outcome(outcome), "search": {"mode": "outcome"}},
        )
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if total is not None:
        bundle["total"] = total
    bundle["link"] = links
    if entries:
        bundle["entry"] = entries
    return bundle


#: Vigil's session status -> FHIR R4 Encounter.status.
ENCOUNTER_STATUS = {
    "scheduled": "planned",
    "checked_in": "arrived",
    "dosing": "in-progress",
    "monitoring": "in-progress",
    "discharged": "finished",
    "transferred": "finished",
    "cancelled": "cancelled",
}
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


def encounter_resource(
    *,
    id: str,
    patient_id: str,
    status: str,
    scheduled_at: datetime,
    checked_in_at: datetime | None,
    ended_at: datetime | None,
    location: str | None,
    version: int,
    last_updated: datetime | None = None,
) -> dict[str, Any]:
    """A treatment session as an ambulatory Encounter: status, period (check-in to the end;
    the scheduled time while it is only planned), subject and location (the chair)."""
    if status not in ENCOUNTER_STATUS:
        raise ValueError(f"not a session status: {status!r}")
    meta: dict[str, Any] = {"versionId": str(version)}
    if last_updated is not None:
        meta["lastUpdated"] = fhir_instant(last_updated)
    period: dict[str, Any] = {"start": fhir_instant(checked_in_at or scheduled_at)}
    if ended_at is not None:
        period["end"] = fhir_instant(ended_at)
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": id,
        "meta": meta,
        "status": ENCOUNTER_STATUS[status],
        "class": {"system": V3_ACT_CODE, "code": "AMB", "display": "ambulatory"},
        "serviceType": {"text": "Ketamine/esketamine treatment session"},
        "subject": {"reference": f"Patient/{patient_id}"},
        "period": period,
    }
    if status == "transferred":
        resource["hospitalization"] = {"dischargeDisposition": {"text": "emergency transfer"}}
    if location:
        resource["location"] = [{"location": {"display": location}}]
    return resource


def status_line(status_code: int) -> str:
    """``201`` -> ``"201 Created"`` for ``Bundle.entry.response.status``."""
    return f"{status_code} {HTTPStatus(status_code).phrase}"


@dataclass(frozen=True)
class EntryResponse:
    """The outcome of one batch/transaction entry."""

    status: str  # "201 Created", "200 OK", "422 Unprocessable Entity"...
    location: str | None = None
    resource: Mapping[str, Any] | None = None
    outcome: Mapping[str, Any] | None = None  # an OperationOutcome, for failures

    @classmethod
    def created(cls, resource: Mapping[str, Any], *, status_code: int = 201) -> EntryResponse:
        """Stored (201), or already stored (200: a retried identifier)."""
        location = f"{resource['resourceType']}/{resource['id']}"
        return cls(status=status_line(status_code), location=location, resource=resource)

    @classmethod
    def failed(cls, status_code: int, issues: Sequence[Mapping[str, Any]]) -> EntryResponse:
        return cls(status=status_line(status_code), outcome=operation_outcome(issues))


def _response_bundle(bundle_type: str, entries: Sequence[EntryResponse]) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    for entry in entries:
        response: dict[str, Any] = {"status": entry.status}
        if entry.location is not None:
            response["location"] = entry.location
        if entry.outcome is not None:
            response["outcome"] = dict(entry.outcome)
        item: dict[str, Any] = {}
        if entry.resource is not None:
            item["resource"] = dict(entry.resource)
        item["response"] = response
        out.append(item)
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": bundle_type}
    if out:
        bundle["entry"] = out
    return bundle


def batch_response_bundle(entries: Sequence[EntryResponse]) -> dict[str, Any]:
    """``batch-response``: one entry per request entry, in order, each succeeding or failing."""
    return _response_bundle("batch-response", entries)


def transaction_response_bundle(entries: Sequence[EntryResponse]) -> dict[str, Any]:
    """``transaction-response`` for a transaction that succeeded as a whole (a failed
    transaction is answered with a single OperationOutcome instead)."""
    failed = [e.status for e in entries if e.status[:1] != "2"]
    if failed:
        raise ValueError(f"a transaction-response holds only successes, got {failed}")
    return _response_bundle("transaction-response", entries)


_ISSUE_KEYS = ("severity", "code", "details", "diagnostics", "location", "expression")
_SEVERITIES = frozenset({"fatal", "error", "warning", "information"})


def operation_outcome(issues: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """An OperationOutcome; issues default to severity ``error`` and code ``processing``."""
    out: list[dict[str, Any]] = []
    for given in issues:
        item = {k: given[k] for k in _ISSUE_KEYS if given.get(k) not in (None, "", [])}
        item.setdefault("severity", "error")
        item.setdefault("code", "processing")
        if item["severity"] not in _SEVERITIES:
            raise ValueError(f"not an issue severity: {item['severity']!r}")
        for key in ("expression", "location"):
            if key in item:
                item[key] = [str(e) for e in item[key]]
        out.append(item)
    if not out:
        out.append({"severity": "information", "code": "informational", "diagnostics": "OK"})
    return {"resourceType": "OperationOutcome", "issue": out}


SEARCH_PARAMETERS = (
    (
        "patient",
        "reference",
        "clinical-patient",
        "The patient: Patient/{id}, {id} or an absolute URL on this server",
    ),
    ("subject", "reference", "Observation-subject", "Alias of patient"),
    ("encounter", "reference", "clinical-encounter", "The session: Encounter/{session id} or {id}"),
    (
        "date",
        "date",
        "clinical-date",
        "When the reading was measured (prefixes eq ne gt lt ge le sa eb ap; a day is the "
        "clinic's day)",
    ),
    (
        "code",
        "token",
        "clinical-code",
        "LOINC code (http://loinc.org|8867-4 or 8867-4; 85354-9 = BP)",
    ),
)
SEARCH_DOCUMENTATION = (
    "Also _count (entries per page, 0-500; a BP panel is one entry; 0 = the total only), "
    "_sort (date or -date), _summary=count, and POST Observation/_search (form-encoded). "
    "Unknown parameters are ignored and listed in an OperationOutcome entry; with "
    "Prefer: handling=strict they are a 400."
)
RESTFUL_SECURITY = "http://terminology.hl7.org/CodeSystem/restful-security-service"


def capability_statement(
    *, base_url: str, version: str, published: datetime | None = None
) -> dict[str, Any]:
    """What ``GET /fhir/R4/metadata`` answers (to anyone: it holds no patient data)."""
    moment = published or datetime.now(UTC)
    observation = {
        "type": "Observation",
        "profile": VITAL_SIGNS_PROFILE,
        "supportedProfile": [BP_PROFILE, *SPECIFIC_PROFILES.values()],
        "documentation": SEARCH_DOCUMENTATION,
        "interaction": [{"code": "create"}, {"code": "read"}, {"code": "search-type"}],
        "versioning": "versioned",
        "readHistory": False,
        "updateCreate": False,
        "searchParam": [
            {
                "name": name,
                "definition": f"http://hl7.org/fhir/SearchParameter/{definition}",
                "type": kind,
                "documentation": doc,
            }
            for name, kind, definition, doc in SEARCH_PARAMETERS
        ],
    }
    read_only = {"interaction": [{"code": "read"}], "versioning": "versioned", "readHistory": False}
    patient = {"type": "Patient", **read_only}
    encounter = {"type": "Encounter", **read_only}
    security = {
        "cors": False,
        "service": [
            {
                "coding": [{"system": RESTFUL_SECURITY, "code": "OAuth", "display": "OAuth"}],
                "text": "Bearer token",
            }
        ],
        "description": (
            "Every request but this one needs `Authorization: Bearer <token>`: staff get a "
            "token from POST /v1/auth/token (username and password); integration clients send "
            "their API key as the bearer token."
        ),
    }
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": fhir_instant(moment),
        "publisher": "Vigil",
        "kind": "instance",
        "software": {"name": "Vigil", "version": version},
        "implementation": {
            "description": "Vigil ketamine/esketamine session record: FHIR R4 facade",
            "url": base_url,
        },
        "fhirVersion": FHIR_VERSION,
        "format": ["json", "application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "security": security,
                "resource": [observation, patient, encounter],
                "interaction": [{"code": "batch"}, {"code": "transaction"}],
            }
        ],
    }


def patient_resource(
    *,
    id: str,
    mrn: str,
    given_name: str,
    family_name: str,
    birth_date: date,
    sex: str,
    mrn_system: str | None = None,
    version: int | None = None,
) -> dict[str, Any]:
    """A Patient with its MRN (identifier type MR) and Vigil's sex as FHIR gender."""
    if sex not in _GENDERS:
        raise ValueError(f"sex must be one of {sorted(_GENDERS)}, not {sex!r}")
    identifier: dict[str, Any] = {
        "use": "usual",
        "type": {
            "coding": [
                {"system": V2_IDENTIFIER_TYPE, "code": "MR", "display": "Medical record number"}
            ],
            "text": "MRN",
        },
        "value": mrn,
    }
    if mrn_system is not None:
        identifier["system"] = mrn_system
    resource: dict[str, Any] = {"resourceType": "Patient", "id": id}
    if version is not None:
        resource["meta"] = {"versionId": str(version)}
    return {
        **resource,
        "identifier": [identifier],
        "name": [{"use": "official", "family": family_name, "given": [given_name]}],
        "gender": sex,
        "birthDate": birth_date.isoformat(),
    }


# --------------------------------------------------------------------------------------------
# Date search parameter
# --------------------------------------------------------------------------------------------

DATE_PREFIXES = ("eq", "ne", "lt", "gt", "le", "ge", "sa", "eb", "ap")
_DATE_PARAM_RE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<mo>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,6}))?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
#: The ends of time a search range is clamped to: a value near year 1 or 9999 (``ge9999-12-31``)
#: is a proper search that finds nothing, not an overflow.
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)
#: ``ap``: "approximately", FHIR's recommendation of 10% of the gap between now and the value.
APPROXIMATE_FRACTION = 0.1


def _add_months(moment: datetime, months: int) -> datetime:
    total = moment.month - 1 + months
    return moment.replace(year=moment.year + total // 12, month=total % 12 + 1)


def parse_date_param(
    value: str, *, day_tz: tzinfo = UTC, now: datetime | None = None
) -> tuple[str, datetime, datetime]:
    """A FHIR ``date`` search value -> (prefix, start, end), a half-open UTC range [start, end).

    Precision: year, month, day (read in ``day_tz``, default UTC), minute, second or fraction.
    A value with a time must carry an offset (naive times are rejected, as everywhere in
    Vigil). ``ap`` widens the range by 10% of the gap between ``now`` and the value on each
    side. Ranges reaching past year 1 or 9999 are clamped to :data:`EARLIEST`/:data:`LATEST`.
    How each prefix matches a reading time ``t``: see :func:`date_matches`.
    """
    prefix, text = "eq", value.strip()
    if text[:2] in DATE_PREFIXES:
        prefix, text = text[:2], text[2:]
    match = _DATE_PARAM_RE.match(text)
    if match is None:
        raise FhirInputError.single(
            "invalid",
            f"date {shown(value)} is not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or "
            "YYYY-MM-DDThh:mm[:ss]+zz:zz, optionally prefixed eq/ne/lt/gt/le/ge/sa/eb/ap)",
        )
    if match["h"] is not None and match["tz"] is None:
        raise FhirInputError.single(
            "invalid", f"date {shown(value)} has a time without an offset; send Z or +hh:mm"
        )
    try:
        start, end = _date_range(match, day_tz)
    except ValueError as exc:
        raise FhirInputError.single("invalid", f"date {shown(value)}: {exc}") from None
    if prefix == "ap":
        moment = now or datetime.now(UTC)
        gap = max(abs(moment - start), abs(moment - _before(end)))
        start, end = (
            _shift(start, -gap * APPROXIMATE_FRACTION),
            _shift(end, gap * APPROXIMATE_FRACTION),
        )
        prefix = "eq"
    return prefix, start, end


def _before(moment: datetime) -> datetime:
    return moment if moment == LATEST else moment - timedelta(microseconds=1)


def _shift(moment: datetime, by: timedelta) -> datetime:
    try:
        return moment + by
    except OverflowError:
        return EARLIEST if by < timedelta(0) else LATEST


def _utc(moment: datetime, *, end: bool) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31 in a zone west of UTC is year 10000 there
        return LATEST if end or moment.year > 1 else EARLIEST


def _date_range(match: re.Match[str], day_tz: tzinfo) -> tuple[datetime, datetime]:
    """[start, end) in UTC; an end past the calendar is :data:`LATEST`."""
    start = _local_start(match, day_tz)
    try:
        end = _local_end(match, start)
    except OverflowError:
        return _utc(start, end=False), LATEST
    return _utc(start, end=False), _utc(end, end=True)


def _local_start(match: re.Match[str], day_tz: tzinfo) -> datetime:
    year = int(match["y"])
    if match["h"] is not None:
        fraction = match["f"] or ""
        return datetime(
            year,
            int(match["mo"]),
            int(match["d"]),
            int(match["h"]),
            int(match["mi"]),
            int(match["s"] or 0),
            int(fraction.ljust(6, "0")) if fraction else 0,
            tzinfo=_tz(match["tz"]),
        )
    month = int(match["mo"]) if match["mo"] is not None else 1
    day = int(match["d"]) if match["d"] is not None else 1
    return datetime(year, month, day, tzinfo=day_tz)


def _local_end(match: re.Match[str], start: datetime) -> datetime:
    """Raises OverflowError (or ValueError from ``replace``) past year 9999."""
    if match["h"] is not None:
        if match["s"] is None:
            return start + timedelta(minutes=1)
        fraction = match["f"] or ""
        return start + timedelta(microseconds=10 ** (6 - len(fraction)))
    if match["d"] is not None:
        return _next_day(start)
    if match["mo"] is not None:
        if start.year == 9999 and start.month == 12:
            raise OverflowError
        return _add_months(start, 1)
    if start.year == 9999:
        raise OverflowError
    return start.replace(year=start.year + 1)


def _next_day(start: datetime) -> datetime:
    following = start.date() + timedelta(days=1)  # OverflowError after 9999-12-31
    return datetime(following.year, following.month, following.day, tzinfo=start.tzinfo)


def date_matches(prefix: str, start: datetime, end: datetime, moment: datetime) -> bool:
    """Whether a reading measured at ``moment`` matches ``prefix`` over [start, end).

    eq: start <= t < end · ne: not eq · lt/eb: t < start · le: t < end ·
    gt/sa: t >= end · ge: t >= start. (Readings are instants, so lt = eb and gt = sa; ``ap``
    is ``eq`` over the widened range :func:`parse_date_param` returns.) An end at
    :data:`LATEST` is the end of time: nothing is after it.
    """
    checks = {
        "eq": start <= moment < end or (end == LATEST and moment >= start),
        "ne": not (start <= moment < end or (end == LATEST and moment >= start)),
        "lt": moment < start,
        "eb": moment < start,
        "le": moment < end or end == LATEST,
        "gt": moment >= end and end != LATEST,
        "sa": moment >= end and end != LATEST,
        "ge": moment >= start,
    }
    if prefix not in checks:
        raise ValueError(f"unknown date prefix {prefix!r}")
    return checks[prefix]
