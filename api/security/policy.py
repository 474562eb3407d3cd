"""Which role may call which route: the one table that says so (SPEC §9).

Keys are (method, path template) exactly as the routes declare them. A route missing here is
refused to everyone (fail closed), and a test checks that every route in the OpenAPI schema is
listed.
"""

from __future__ import annotations

ADMIN, CLINICIAN, NURSE, INTEGRATION = "admin", "clinician", "nurse", "integration"
CLINICAL = frozenset({CLINICIAN, NURSE})
CLINICIAN_ONLY = frozenset({CLINICIAN})
ADMIN_ONLY = frozenset({ADMIN})
PUSH = frozenset({INTEGRATION})
ANY_STAFF = frozenset({ADMIN, CLINICIAN, NURSE})
RECORDS_OFFICERS = frozenset({ADMIN, CLINICIAN})

# The station page's static files (SPEC §13) are public, like /healthz and the docs: they carry
# no patient data, and the page signs in through the API before it fetches any.
PUBLIC_STATIC_PREFIX = "/station/"

POLICY: dict[tuple[str, str], frozenset[str]] = {
    # staff and integration management
    ("POST", "/v1/users"): ADMIN_ONLY,
    ("GET", "/v1/users"): ADMIN_ONLY,
    ("GET", "/v1/users/me"): ANY_STAFF,
    ("POST", "/v1/users/me/password"): ANY_STAFF,
    ("PATCH", "/v1/users/{user_id}"): ADMIN_ONLY,
    ("POST", "/v1/users/{user_id}/password"): ADMIN_ONLY,
    ("POST", "/v1/users/{user_id}/unlock"): ADMIN_ONLY,
    ("POST", "/v1/users/{user_id}/disable"): ADMIN_ONLY,
    ("POST", "/v1/users/{user_id}/enable"): ADMIN_ONLY,
    ("GET", "/v1/staff"): ANY_STAFF,
    ("POST", "/v1/auth/logout"): ANY_STAFF,
    ("POST", "/v1/integration-clients"): ADMIN_ONLY,
    ("GET", "/v1/integration-clients"): ADMIN_ONLY,
    ("POST", "/v1/integration-clients/{client_id}/revoke"): ADMIN_ONLY,
    ("GET", "/v1/audit-events"): ADMIN_ONLY,
    # patients
    ("POST", "/v1/patients"): CLINICAL,
    ("GET", "/v1/patients"): CLINICAL,
    ("GET", "/v1/patients/{patient_id}"): CLINICAL,
    ("PATCH", "/v1/patients/{patient_id}"): CLINICAL,
    # screenings (SPEC §11): clinicians record, nurses read
    ("POST", "/v1/patients/{patient_id}/screenings"): CLINICIAN_ONLY,
    ("GET", "/v1/patients/{patient_id}/screenings"): CLINICAL,
    ("GET", "/v1/patients/{patient_id}/screenings/current"): CLINICAL,
    # the medication list (SPEC §11): nurses and clinicians
    ("GET", "/v1/patients/{patient_id}/medications"): CLINICAL,
    ("PUT", "/v1/patients/{patient_id}/medications"): CLINICAL,
    ("GET", "/v1/patients/{patient_id}/medications/history"): CLINICAL,
    # dosing plans: clinicians write, nurses read
    ("POST", "/v1/patients/{patient_id}/dosing-plans"): CLINICIAN_ONLY,
    ("GET", "/v1/patients/{patient_id}/dosing-plans"): CLINICAL,
    ("GET", "/v1/dosing-plans/{plan_id}"): CLINICAL,
    ("GET", "/v1/dosing-plans/{plan_id}/revisions"): CLINICAL,
    ("GET", "/v1/dosing-plans/{plan_id}/revisions/{n}"): CLINICAL,
    ("POST", "/v1/dosing-plans/{plan_id}/revisions"): CLINICIAN_ONLY,
    ("POST", "/v1/dosing-plans/{plan_id}/discontinue"): CLINICIAN_ONLY,
    # sessions and vitals
    ("POST", "/v1/sessions"): CLINICAL,
    ("GET", "/v1/sessions"): CLINICAL,
    ("GET", "/v1/sessions/{session_id}"): CLINICAL,
    ("POST", "/v1/sessions/{session_id}/transitions"): CLINICAL,
    ("GET", "/v1/sessions/{session_id}/readiness"): CLINICAL,
    ("GET", "/v1/board"): CLINICAL,
    ("POST", "/v1/sessions/{session_id}/repin"): CLINICAL,
    ("PUT", "/v1/sessions/{session_id}/checklist"): CLINICAL,
    ("PUT", "/v1/sessions/{session_id}/discharge-checklist"): CLINICAL,
    ("POST", "/v1/sessions/{session_id}/vitals"): CLINICAL,
    ("GET", "/v1/sessions/{session_id}/vitals"): CLINICAL,
    ("POST", "/v1/sessions/{session_id}/vitals/{observation_id}/retract"): CLINICAL,
    # clinical safety: alerts, doses, scales (nurses and clinicians); REMS form and trends
    # (clinicians); the controlled-substance log (administrators and clinicians)
    ("GET", "/v1/alerts"): CLINICAL,
    ("POST", "/v1/alerts/{alert_id}/acknowledge"): CLINICAL,
    ("GET", "/v1/sessions/{session_id}/alerts"): CLINICAL,
    ("POST", "/v1/sessions/{session_id}/administrations"): CLINICAL,
    ("GET", "/v1/sessions/{session_id}/administrations"): CLINICAL,
    ("POST", "/v1/sessions/{session_id}/administrations/{administration_id}/retract"): CLINICAL,
    ("POST", "/v1/sessions/{session_id}/administrations/{administration_id}/witness"): CLINICAL,
    (
        "PUT",
        "/v1/sessions/{session_id}/administrations/{administration_id}/witness-request",
    ): CLINICAL,
    ("POST", "/v1/sessions/{session_id}/assessments"): CLINICAL,
    ("GET", "/v1/sessions/{session_id}/assessments"): CLINICAL,
    ("POST", "/v1/sessions/{session_id}/assessments/{assessment_id}/retract"): CLINICAL,
    ("POST", "/v1/sessions/{session_id}/medications"): CLINICAL,
    ("GET", "/v1/sessions/{session_id}/medications"): CLINICAL,
    ("POST", "/v1/sessions/{session_id}/medications/{medication_id}/retract"): CLINICAL,
    ("POST", "/v1/sessions/{session_id}/adverse-events"): CLINICAL,
    ("GET", "/v1/sessions/{session_id}/adverse-events"): CLINICAL,
    ("POST", "/v1/sessions/{session_id}/adverse-events/{adverse_event_id}/resolve"): CLINICAL,
    ("POST", "/v1/sessions/{session_id}/adverse-events/{adverse_event_id}/retract"): CLINICAL,
    # the REMS form: nurses and clinicians (SPEC §9)
    ("GET", "/v1/sessions/{session_id}/rems-form"): CLINICAL,
    ("POST", "/v1/sessions/{session_id}/rems-form/submissions"): CLINICAL,
    ("GET", "/v1/rems-forms"): CLINICAL,
    ("GET", "/v1/patients/{patient_id}/trends"): CLINICIAN_ONLY,
    # the course and between sessions (SPEC §12): nurses and clinicians
    ("GET", "/v1/patients/{patient_id}/course"): CLINICAL,
    ("POST", "/v1/patients/{patient_id}/assessments"): CLINICAL,
    ("POST", "/v1/sessions/{session_id}/follow-ups"): CLINICAL,
    ("GET", "/v1/follow-ups"): CLINICAL,
    ("GET", "/v1/controlled-substances/log"): RECORDS_OFFICERS,
    # devices and their bindings to sessions
    ("POST", "/v1/devices"): ADMIN_ONLY,
    ("GET", "/v1/devices"): ANY_STAFF,
    ("POST", "/v1/sessions/{session_id}/devices"): CLINICAL,
    ("GET", "/v1/sessions/{session_id}/devices"): CLINICAL,
    ("POST", "/v1/sessions/{session_id}/devices/{binding_id}/release"): CLINICAL,
    # integrations: push only (an API key reads no patient data); the quarantine is admin's
    ("POST", "/v1/integrations/observations"): PUSH,
    ("POST", "/v1/integrations/hl7v2"): PUSH,
    ("GET", "/v1/integrations/quarantine"): ADMIN_ONLY,
    # live streams
    ("GET", "/v1/sessions/{session_id}/events"): CLINICAL,
    ("GET", "/v1/events"): CLINICAL,
    # a browser's ticket for a stream (the stream's own roles are checked when it is issued)
    ("POST", "/v1/events/tickets"): ANY_STAFF,
    # FHIR R4 facade: integrations (and clinical staff) create, clinical staff read
    # (GET /fhir/R4/metadata is public: api/openapi.py PUBLIC_OPERATIONS)
    ("POST", "/fhir/R4/Observation"): PUSH | CLINICAL,
    ("POST", "/fhir/R4"): PUSH | CLINICAL,
    ("GET", "/fhir/R4/Observation"): CLINICAL,
    ("POST", "/fhir/R4/Observation/_search"): CLINICAL,
    ("GET", "/fhir/R4/Observation/{observation_id}"): CLINICAL,
    ("GET", "/fhir/R4/Patient/{patient_id}"): CLINICAL,
    ("GET", "/fhir/R4/Encounter/{session_id}"): CLINICAL,
    ("GET", "/fhir/R4/AdverseEvent"): CLINICAL,
    ("GET", "/fhir/R4/MedicationStatement"): CLINICAL,
}


def allowed_roles(method: str, path: str) -> frozenset[str]:
    return POLICY.get((method, path), frozenset())
