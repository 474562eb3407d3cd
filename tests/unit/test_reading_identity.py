"""One identity rule for readings (SPEC §5): exact external ids, device + code + time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from api.vitals.identity import device_reading_identity, external_id_problem


def test_an_external_id_is_exact() -> None:
    assert external_id_problem("tab-7:991") is None
    assert external_id_problem("tab 7") is None
    for bad in (" tab-7", "tab-7 ", "tab-7\t", "\ntab-7", "\u00a0tab-7"):
        assert external_id_problem(bad) is not None, repr(bad)


def test_a_device_reading_is_its_device_code_and_instant() -> None:
    at = datetime(2026, 12, 1, 14, 2, tzinfo=UTC)
    key = device_reading_identity("device", "00A0370098006640", "spo2", at)
    elsewhere = at.astimezone(timezone(timedelta(hours=-5)))
    assert device_reading_identity("device", "00A0370098006640", "spo2", elsewhere) == key
    assert key.startswith("device:")
    assert len(key) <= 200
    others = {
        device_reading_identity("device", "00A0370098006641", "spo2", at),
        device_reading_identity("device", "00A0370098006640", "heart_rate", at),
        device_reading_identity("device", "00A0370098006640", "spo2", at + timedelta(seconds=1)),
        device_reading_identity("hl7v2", "00A0370098006640", "spo2", at),
    }
    assert key not in others
    assert len(others) == 4
