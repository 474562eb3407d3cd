"""Monitoring devices and their bindings to sessions (SPEC §8)."""
