"""A client generated from Vigil's OpenAPI by openapi-python-client runs a whole session against
a real server, with no workarounds (issue 19): ids it receives go back as they came, and every
error body parses as the documented Problem (problem+json).

The walk is the clinic's day in order; a step a new gate needs (a screening, a checklist, a
score) goes where its comment says, as one more generated-client call. Bodies come from the
shared test data (tests/factories.py, tests/api/safety_helpers.py), so a requirement met there
is met here.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import orjson
import pytest

from api.main import create_app
from tests.api.safety_helpers import good_discharge_vitals
from tests.conftest import Backend, Staff, make_settings
from tests.factories import (
    IV_PLAN,
    eligible_screening,
    good_predose,
    iso,
    now,
    prepare_discharge,
    prepare_dosing,
)
from tests.integrations.live_app import live_server

PACKAGE = "vigil_client"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """Generate the client from the schema the app serves, and import it."""
    out = tmp_path_factory.mktemp("generated")
    spec = out / "openapi.json"
    app = create_app(make_settings(f"sqlite+aiosqlite:///{out / 'unused.db'}"))
    spec.write_bytes(orjson.dumps(app.openapi()))
    result = subprocess.run(
        [str(GENERATOR), "generate", "--path", str(spec), "--meta", "none"],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": f"{GENERATOR.parent}:/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Every operation but HL7 v2 (text bodies, which the generator does not support) is there.
    output = result.stdout + result.stderr
    skipped = [line for line in output.splitlines() if "will not be generated" in line]
    assert skipped == [
        "WARNING parsing POST /v1/integrations/hl7v2 within integrations. "
        "Endpoint will not be generated."
    ], output
    sys.path.insert(0, str(out))
    return importlib.import_module(PACKAGE)


@pytest.fixture(scope="module")
async def live_url(backend: Backend) -> AsyncIterator[str]:
    async with live_server(backend) as url:
        yield url


def op(name: str) -> Any:
    """An operation module of the generated client, e.g. ``"sessions.read_session_..."``."""
    return importlib.import_module(f"{PACKAGE}.api.{name}")


def model(name: str) -> Any:
    return getattr(importlib.import_module(f"{PACKAGE}.models"), name)


async def call(operation: str, status: int, **kwargs: Any) -> Any:
    """Call an operation; assert the status and return the parsed body."""
    response = await op(operation).asyncio_detailed(**kwargs)
    assert response.status_code == status, response.content
    assert response.parsed is not None, response.content
    return response.parsed


async def test_a_generated_client_runs_a_whole_session(
    generated: ModuleType, live_url: str, staff: Staff
) -> None:
    token = staff.tokens["clinician"]
    api = generated.AuthenticatedClient(base_url=live_url, token=token)
    plain = httpx.AsyncClient(base_url=live_url, headers={"Authorization": f"Bearer {token}"})
    t0 = now()

    def at(minutes_ago: float) -> datetime:
        return t0 - timedelta(minutes=minutes_ago)

    async with api, plain:
        patient = await call(
            "patients.create_patient_v1_patients_post",
            201,
            client=api,
            body=model("PatientCreate").from_dict(
                {
                    "mrn": f"MRN-{uuid.uuid4().hex[:10]}",
                    "given_name": "Ana",
                    "family_name": "Ruiz",
                    "birth_date": "1984-03-09",
                    "sex": "female",
                    "height_cm": 165,
                }
            ),
        )
        # a screening before the plan (SPEC §11)
        screening = await call(
            "screenings.record_screening_v1_patients_patient_id_screenings_post",
            201,
            patient_id=patient.id,
            client=api,
            body=model("ScreeningCreate").from_dict(eligible_screening()),
        )
        assert screening.decision == "eligible"
        plan = await call(
            "dosing_plans.create_plan_v1_patients_patient_id_dosing_plans_post",
            201,
            patient_id=patient.id,
            client=api,
            body=model("PlanContent").from_dict(IV_PLAN),
        )
        session = await call(
            "sessions.create_session_v1_sessions_post",
            201,
            client=api,
            body=model("SessionCreate").from_dict(
                {
                    "patient_id": patient.id,  # an id received, sent back as it came
                    "dosing_plan_id": plan.id,
                    "scheduled_at": iso(t0 + timedelta(hours=1)),
                    "location": "chair-3",
                }
            ),
        )
        sid = session.id

        async def transition(to: str, minutes_ago: float, **body: Any) -> Any:
            return await call(
                "sessions.transition_v1_sessions_session_id_transitions_post",
                200,
                session_id=sid,
                client=api,
                body=model("TransitionRequest").from_dict(
                    {"to": to, "at": iso(at(minutes_ago)), **body}
                ),
            )

        async def vitals(observations: list[dict[str, Any]]) -> Any:
            return await call(
                "vitals.record_vitals_v1_sessions_session_id_vitals_post",
                201,
                session_id=sid,
                client=api,
                body=model("ObservationBatch").from_dict({"observations": observations}),
            )

        checked_in = await transition("checked_in", 100, weight_kg=72)
        assert checked_in.planned_dose_mg == 36

        await vitals(good_predose(at(95)))
        # (the pre-session checklist goes here)
        await prepare_dosing(plain, sid, at(90))
        dosing = await transition("dosing", 90)
        assert dosing.status == "dosing"

        administration = await call(
            "administrations.record_administration_v1_sessions_session_id_administrations_post",
            201,
            session_id=sid,
            client=api,
            body=model("AdministrationCreate").from_dict(
                {
                    "medication": IV_PLAN["medication"],
                    "route": IV_PLAN["route"],
                    "dose_mg": checked_in.planned_dose_mg,
                    "started_at": iso(at(90)),
                    "ended_at": iso(at(50)),
                    "lot_number": "KET-24-0917",
                }
            ),
        )
        assert administration.session_id == sid

        await transition("monitoring", 48)
        await vitals(good_discharge_vitals(at(5)))
        await call(
            "assessments.record_assessment_v1_sessions_session_id_assessments_post",
            201,
            session_id=sid,
            client=api,
            body=model("AssessmentCreate").from_dict(
                {"instrument": "moaas", "score": 5, "administered_at": iso(at(4))}
            ),
        )
        # (the discharge checklist goes here)
        await prepare_discharge(plain, sid, at(2))
        discharged = await transition("discharged", 2)
        assert discharged.status == "discharged"

        record = await call(
            "sessions.read_session_v1_sessions_session_id_get", 200, session_id=sid, client=api
        )
        assert record.status == "discharged"
        readings = await call(
            "vitals.list_vitals_v1_sessions_session_id_vitals_get",
            200,
            session_id=sid,
            client=api,
        )
        assert {r.session_id for r in readings.items} == {sid}

        # Errors parse as the documented Problem, with their extension members.
        refused = await op(
            "sessions.transition_v1_sessions_session_id_transitions_post"
        ).asyncio_detailed(
            session_id=sid, client=api, body=model("TransitionRequest").from_dict({"to": "dosing"})
        )
        assert refused.status_code == 409
        problem = refused.parsed
        assert isinstance(problem, model("Problem"))
        assert problem.status == 409
        assert problem.allowed == []
        missing = await op("sessions.read_session_v1_sessions_session_id_get").asyncio_detailed(
            session_id=str(uuid.uuid4()), client=api
        )
        assert missing.status_code == 404
        assert isinstance(missing.parsed, model("Problem"))
        invalid = await op(
            "vitals.record_vitals_v1_sessions_session_id_vitals_post"
        ).asyncio_detailed(
            session_id=sid,
            client=api,
            body=model("ObservationBatch").from_dict(
                {
                    "observations": [
                        {
                            "code": "heart_rate",
                            "value": 70,
                            "unit": "/min",
                            "measured_at": "2026-12-01T10:00:00",
                        }
                    ]
                }
            ),
        )
        assert invalid.status_code in (409, 422)
        assert isinstance(invalid.parsed, model("Problem"))
        assert invalid.parsed.errors or invalid.parsed.code
