"""Property-based fuzzing of every operation in Vigil's own OpenAPI schema (schemathesis).

Each operation gets a small, bounded number of generated requests (valid and invalid) sent
in-process to the real app on a migrated database (PostgreSQL when configured: it enforces column
lengths and integer ranges that SQLite does not, which is where 5xx bugs hide). Checks: never a
5xx, and every response conforms to the documented status codes, content types and schemas.

Each operation is called with the token of a role the policy allows (so requests get past
authentication and authorization), and path ids are swapped for ids of real records half of the
time, so generated bodies reach the services instead of stopping at 404. Bounded by
``VIGIL_FUZZ_EXAMPLES`` (default 15 per operation).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.main import create_app
from api.security.policy import allowed_roles
from tests.conftest import (
    ADMIN_PASSWORD,
    PG_SERVER_URL,
    STAFF_PASSWORD,
    make_settings,
    migrate,
)
from tests.factories import eligible_screening
from tests.live import create_database, database_url, drop_database

# HL7 v2 bodies are text: send generated strings as they are (the app must answer an ACK).
schemathesis.serializer.alias(["application/hl7-v2", "x-application/hl7-v2+er7"], "text/plain")

MAX_EXAMPLES = int(os.environ.get("VIGIL_FUZZ_EXAMPLES", "15"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

pytestmark = pytest.mark.slow


# The app is built at import (the schema is needed to generate the tests); its database is
# created and migrated by the fixture below before the first request reaches it.
if PG_SERVER_URL:
    _DB_NAME = f"vigil_fuzz_{uuid.uuid4().hex[:10]}"
    _DB_URL = database_url(PG_SERVER_URL, _DB_NAME)
else:
    _DB_NAME = ""
    _DB_URL = f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='vigil-fuzz-')}/vigil.db"
APP = create_app(make_settings(_DB_URL))
schema = schemathesis.openapi.from_dict(APP.openapi())
schema.app = APP


@pytest.fixture(scope="module", autouse=True)
def fuzz_database() -> Iterator[str]:
    if PG_SERVER_URL:
        asyncio.run(create_database(PG_SERVER_URL, _DB_NAME))
    migrate(_DB_URL)
    yield _DB_URL
    from schemathesis.python.asgi import shutdown_lifespans

    shutdown_lifespans()  # closes the app's connections before the database goes
    if PG_SERVER_URL:
        asyncio.run(drop_database(PG_SERVER_URL, _DB_NAME))


@dataclass
class World:
    """Tokens for each role and ids of real records, created through the API itself."""

    tokens: dict[str, str]
    ids: dict[str, str]


def _login(client: Any, username: str, password: str) -> str:
    r = client.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


@pytest.fixture(scope="module")
def world(fuzz_database: str) -> World:
    from schemathesis.python.asgi import get_client

    with get_client(APP) as client:
        tokens = {"admin": _login(client, "admin", ADMIN_PASSWORD)}
        for role in ("clinician", "nurse"):
            username = f"fuzz-{role}"
            r = client.post(
                "/v1/users",
                json={
                    "username": username,
                    "password": STAFF_PASSWORD,
                    "role": role,
                    "display_name": username,
                },
                headers={"Authorization": f"Bearer {tokens['admin']}"},
            )
            assert r.status_code == 201, r.text
            tokens[role] = _login(client, username, STAFF_PASSWORD)
        r = client.post(
            "/v1/integration-clients",
            json={"name": "fuzz gateway"},
            headers={"Authorization": f"Bearer {tokens['admin']}"},
        )
        tokens["integration"] = r.json()["api_key"]
        auth = {"Authorization": f"Bearer {tokens['clinician']}"}
        patient = client.post(
            "/v1/patients",
            json={
                "mrn": f"FUZZ-{uuid.uuid4().hex[:8]}",
                "given_name": "Fuzz",
                "family_name": "Case",
                "birth_date": "1980-01-01",
                "sex": "other",
                "height_cm": 170,
            },
            headers=auth,
        ).json()
        screening = client.post(
            f"/v1/patients/{patient['id']}/screenings", json=eligible_screening(), headers=auth
        )
        assert screening.status_code == 201, screening.text
        plan = client.post(
            f"/v1/patients/{patient['id']}/dosing-plans",
            json={
                "medication": "ketamine",
                "route": "iv_infusion",
                "indication": "trd",
                "dose_mg_per_kg": 0.5,
                "max_dose_mg": 60,
                "infusion_minutes": 40,
                "min_monitoring_minutes": 60,
            },
            headers=auth,
        ).json()
        session = client.post(
            "/v1/sessions",
            json={
                "patient_id": patient["id"],
                "dosing_plan_id": plan["id"],
                "scheduled_at": "2026-12-01T09:00:00Z",
            },
            headers=auth,
        ).json()
    return World(
        tokens=tokens,
        ids={"patient_id": patient["id"], "plan_id": plan["id"], "session_id": session["id"]},
    )


def _spare_token(token: str) -> str:
    """Another token of the same user: logging out must not end the one the fuzzing uses."""
    from api.security.tokens import issue_token, read_token

    claims = read_token(token, secret=APP.state.secret_key)
    assert claims is not None
    return issue_token(
        user_id=uuid.UUID(claims.user_id),
        role=claims.role,
        secret=APP.state.secret_key,
        ttl_minutes=5,
        generation=claims.generation,
    )


def _role_for(method: str, path: str) -> str | None:
    """A role the policy lets call the operation (clinician first): fuzz past the 403."""
    roles = allowed_roles(method, path)
    return next((r for r in ("clinician", "nurse", "admin", "integration") if r in roles), None)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_answers_without_5xx_and_as_documented(case: Any, world: World) -> None:
    if case.path_parameters and zlib.crc32(repr(case.body).encode()) % 2:
        for key in case.path_parameters:
            if key in world.ids:
                case.path_parameters[key] = world.ids[key]
    role = _role_for(case.method.upper(), case.path)
    headers = {"Authorization": f"Bearer {world.tokens[role]}"} if role else {}
    if role and (case.method.upper(), case.path) == ("POST", "/v1/auth/logout"):
        headers = {"Authorization": f"Bearer {_spare_token(world.tokens[role])}"}
    # Event streams stay open (heartbeats) until max_seconds: keep what arrived in half a second.
    extra = {"timeout": 0.5} if case.path.endswith("/events") else {}
    case.call_and_validate(headers=headers, checks=CHECKS, **extra)
