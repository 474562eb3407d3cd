"""The HL7 v2 and FHIR translators are pure (docs/architecture.md tier "pure"): importing them
loads no database, HTTP, ORM or settings module, and the one setting they apply (SPEC §1's
future tolerance) is passed in."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.clinical.future import DEFAULT_FUTURE_TOLERANCE_SECONDS, future_problem
from api.config import Settings
from api.fhir.translate.codes import LOINC, UCUM
from api.fhir.translate.inbound import parse_observation
from api.fhir.translate.outcome import FhirInputError
from api.integrations.hl7v2 import parse_oru

ROOT = Path(__file__).resolve().parents[2]
WITH_IO = ("sqlalchemy", "fastapi", "starlette", "httpx", "asyncpg", "models", "pydantic")
NOT_PURE = ("api.config", "api.types", "api.db", "api.audit", "api.errors")


def test_importing_the_translators_loads_nothing_with_io() -> None:
    code = (
        "import sys\n"
        "import api.fhir.translate, api.integrations.hl7v2\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {WITH_IO!r}"
        f" or m in {NOT_PURE!r}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert out.strip() == "[]"


def test_the_future_rule_is_the_tolerance_past_the_clock() -> None:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    at = now + timedelta(seconds=120)
    assert future_problem(at, tolerance_seconds=120, now=now.timestamp()) is None
    problem = future_problem(
        at + timedelta(microseconds=1), tolerance_seconds=120, now=now.timestamp()
    )
    assert problem == "timestamp is in the future (more than 120 s past the server clock)"
    default = Settings.model_fields["future_tolerance_seconds"].default
    assert default == DEFAULT_FUTURE_TOLERANCE_SECONDS


def _fhir_observation(at: datetime) -> dict[str, object]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "8867-4"}]},
        "subject": {"reference": "Patient/p-1"},
        "effectiveDateTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "valueQuantity": {"value": 72, "system": UCUM, "code": "/min"},
    }


def _oru(at: datetime) -> str:
    return "\r".join(
        [
            "MSH|^~\\&|MON||VIGIL||20240305101500+0000||ORU^R01^ORU_R01|M1|P|2.6",
            "PID|||A-1^^^VIGIL^MR",
            f"OBR|1||||||{at:%Y%m%d%H%M%S}+0000",
            "OBX|1|NM|147842^^MDC||72|/min|||||F",
        ]
    )


def test_the_translators_apply_the_tolerance_they_are_given() -> None:
    # An hour ahead: far from either tolerance, so the clock's progress cannot matter.
    ahead = datetime.now(UTC) + timedelta(hours=1)
    assert parse_observation(_fhir_observation(ahead), future_tolerance_seconds=7200).readings
    with pytest.raises(FhirInputError, match="in the future"):
        parse_observation(_fhir_observation(ahead))
    assert parse_oru(_oru(ahead), clinic_tz=UTC, future_tolerance_seconds=7200).readings
    [rejected] = parse_oru(_oru(ahead), clinic_tz=UTC).rejected
    assert "in the future (more than 120 s" in rejected.detail
