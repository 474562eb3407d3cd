"""FHIR R4 translators: FHIR JSON <-> plain values. Pure: no database, no HTTP, no settings."""
