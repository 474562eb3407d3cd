"""Live monitoring: the events outbox, cross-process fan-out and the SSE streams (SPEC §8)."""
