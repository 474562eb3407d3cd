"""The readings pipeline: every entry point that stores vital-sign readings (REST vitals, device
push, HL7 v2 over HTTP and MLLP, FHIR) calls :func:`api.readings.pipeline.ingest` — one lock,
one check, one BP pairing rule, one store, one outcome for each case. The entry points only
frame those outcomes (REST and FHIR atomically, push and HL7 per item)."""
