"""FHIR R4 code systems, profiles, LOINC codes and Observation statuses Vigil reads and writes."""

from __future__ import annotations

from api.clinical.vitals import VITALS, VitalCode

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
