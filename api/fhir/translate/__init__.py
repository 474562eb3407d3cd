"""FHIR R4 translators: FHIR JSON <-> plain values (SPEC §8, DOMAIN.md).

Pure: no database, no HTTP, no settings. One module a job:

* :mod:`.codes` code systems, profiles, LOINC codes, Observation statuses
* :mod:`.outcome` OperationOutcome issues and :class:`FhirInputError`
* :mod:`.times` FHIR dateTime/instant text <-> aware UTC datetimes
* :mod:`.inbound` vital-sign Observations and batch/transaction Bundles in
* :mod:`.observation` stored readings -> Observations (a BP pair -> one panel)
* :mod:`.resources` Patient and Encounter
* :mod:`.bundles` searchset, batch-response and transaction-response Bundles
* :mod:`.capability` the CapabilityStatement
* :mod:`.dates` the ``date`` search parameter (what each prefix means)
* :mod:`.safety` AdverseEvent and MedicationStatement

The names services use are importable from the package itself (``from api.fhir import
translate``; ``translate.parse_observation``).
"""

from api.fhir.translate.bundles import (
    EntryResponse,
    batch_response_bundle,
    searchset_bundle,
    status_line,
    transaction_response_bundle,
)
from api.fhir.translate.capability import capability_statement
from api.fhir.translate.codes import (
    ACCEPTED_STATUSES,
    BP_PANEL_LOINC,
    BP_PANEL_LOINCS,
    BP_PROFILE,
    FHIR_VERSION,
    LOINC,
    LOINC_TO_VITAL,
    OBSERVATION_CATEGORY,
    UCUM,
    VITAL_SIGNS_PROFILE,
)
from api.fhir.translate.dates import (
    DATE_PREFIXES,
    EARLIEST,
    LATEST,
    DateBounds,
    date_bounds,
    date_matches,
    parse_date_param,
)
from api.fhir.translate.inbound import (
    FhirReading,
    InboundObservation,
    parse_bundle,
    parse_observation,
)
from api.fhir.translate.observation import (
    ReadingLike,
    bp_panel_resource,
    group_for_fhir,
    observation_resource,
    reading_version,
)
from api.fhir.translate.outcome import FhirInputError, issue, operation_outcome, shown
from api.fhir.translate.resources import encounter_resource, patient_resource
from api.fhir.translate.safety import adverse_event_resource, medication_statement_resources
from api.fhir.translate.times import fhir_instant, parse_fhir_datetime

__all__ = [
    "ACCEPTED_STATUSES",
    "BP_PANEL_LOINC",
    "BP_PANEL_LOINCS",
    "BP_PROFILE",
    "DATE_PREFIXES",
    "EARLIEST",
    "FHIR_VERSION",
    "LATEST",
    "LOINC",
    "LOINC_TO_VITAL",
    "OBSERVATION_CATEGORY",
    "UCUM",
    "VITAL_SIGNS_PROFILE",
    "DateBounds",
    "EntryResponse",
    "FhirInputError",
    "FhirReading",
    "InboundObservation",
    "ReadingLike",
    "adverse_event_resource",
    "batch_response_bundle",
    "bp_panel_resource",
    "capability_statement",
    "date_bounds",
    "date_matches",
    "encounter_resource",
    "fhir_instant",
    "group_for_fhir",
    "issue",
    "medication_statement_resources",
    "observation_resource",
    "operation_outcome",
    "parse_bundle",
    "parse_date_param",
    "parse_fhir_datetime",
    "parse_observation",
    "patient_resource",
    "reading_version",
    "searchset_bundle",
    "shown",
    "status_line",
    "transaction_response_bundle",
]
