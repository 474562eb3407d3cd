"""FHIR R4 facade (SPEC §8): Observation create/search, Bundles, Patient read."""
