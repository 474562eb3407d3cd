"""Malformed or forged ``cursor`` values: a 422 problem+json on ``["query", "cursor"]`` on every
paginated list (SPEC §1), never a 500 — whatever the decoded JSON holds."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Staff
from tests.factories import create_session


def forge(*values: Any) -> str:
    """A cursor as the server writes one (base64url of a JSON array), holding ``values``."""
    return base64.urlsafe_b64encode(orjson.dumps(list(values))).decode().rstrip("=")


ID = str(uuid.uuid4())
WHEN = "2026-01-01T00:00:00+00:00"

# Bad for every list, whatever its sort key.
BAD_CURSORS = [
    forge(WHEN, 5),  # a number where a UUID is expected
    forge(WHEN, None),
    forge(WHEN, [ID]),
    forge(5.5, ID),  # a number where a timestamp, a string or an integer is expected
    forge(2**40, ID),  # not an INTEGER column's value either
    forge(True, ID),
    forge({"a": 1}, ID),
    forge(WHEN, "not-a-uuid"),
    forge(WHEN, 5, ID),
    forge(WHEN, ID, ID, ID),  # too long
    forge(WHEN),  # too short
    forge(),
    forge("a\x00b", ID),  # NUL: PostgreSQL text cannot hold it
    forge("a\x00b", "b", ID),
    forge(["x"], ["y"], ID),
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),  # not UTF-8
    base64.urlsafe_b64encode(b"{}").decode(),
    "!!!!",
    "garbage",
    "é",
]
# Bad where the sort key is a timestamp (a string sort key may hold any text).
BAD_TIME_CURSORS = [
    forge("0001-01-01T00:00:00+01:00", ID),  # before year 1 once in UTC
    forge("9999-12-31T23:59:59-01:00", ID),  # after year 9999 once in UTC
    forge("2026-01-01T00:00:00", ID),  # no offset
    forge("not a time", ID),
]


async def list_urls(client: httpx.AsyncClient) -> list[tuple[str, str, dict[str, str]]]:
    """(who, path, extra query) for every paginated list of the REST API; the lists sorted by
    something else than a timestamp come last."""
    s = await create_session(client)
    sid, pid, plan_id = s["id"], s["patient_id"], s["dosing_plan_id"]
    return [
        ("clinician", "/v1/sessions", {}),
        ("clinician", f"/v1/sessions/{sid}/vitals", {}),
        ("clinician", f"/v1/sessions/{sid}/alerts", {}),
        ("clinician", f"/v1/sessions/{sid}/administrations", {}),
        ("clinician", f"/v1/sessions/{sid}/assessments", {}),
        ("clinician", "/v1/alerts", {}),
        ("clinician", "/v1/alerts", {"status": "open"}),
        ("clinician", "/v1/controlled-substances/log", {}),
        ("clinician", f"/v1/patients/{pid}/trends", {"code": "systolic_bp"}),
        ("clinician", f"/v1/patients/{pid}/trends", {"instrument": "phq9"}),
        ("admin", "/v1/audit-events", {}),
        ("admin", "/v1/integrations/quarantine", {}),
        ("clinician", f"/v1/patients/{pid}/dosing-plans", {}),
        ("clinician", "/v1/patients", {}),  # sorted by names
        ("clinician", "/v1/patients", {"q": "ruiz"}),
        ("admin", "/v1/devices", {}),  # sorted by identifier
        ("clinician", f"/v1/dosing-plans/{plan_id}/revisions", {}),  # sorted by number
    ]


NOT_BY_TIME = 4


def assert_cursor_422(r: httpx.Response, where: str) -> None:
    assert r.status_code == 422, (where, r.status_code, r.text[:300])
    assert r.headers["content-type"] == "application/problem+json", where
    assert r.json()["errors"] == [{"loc": ["query", "cursor"], "msg": "invalid cursor"}], where


@pytest.fixture(scope="module")
async def lists(
    app: Any, staff: Staff, client: httpx.AsyncClient
) -> AsyncIterator[list[tuple[httpx.AsyncClient, str, dict[str, str]]]]:
    clients = {
        role: httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://vigil.test",
            headers={"Authorization": f"Bearer {staff.tokens[role]}"},
        )
        for role in ("clinician", "admin")
    }
    yield [(clients[who], path, extra) for who, path, extra in await list_urls(client)]
    for c in clients.values():
        await c.aclose()


@pytest.mark.parametrize("cursor", BAD_CURSORS)
async def test_malformed_cursor_is_422_on_every_list(
    lists: list[tuple[httpx.AsyncClient, str, dict[str, str]]], cursor: str
) -> None:
    for c, path, extra in lists:
        r = await c.get(path, params={**extra, "cursor": cursor})
        assert_cursor_422(r, f"{path} {extra}")


@pytest.mark.parametrize("cursor", BAD_TIME_CURSORS)
async def test_malformed_timestamp_in_cursor_is_422(
    lists: list[tuple[httpx.AsyncClient, str, dict[str, str]]], cursor: str
) -> None:
    for c, path, extra in lists[:-NOT_BY_TIME]:
        r = await c.get(path, params={**extra, "cursor": cursor})
        assert_cursor_422(r, f"{path} {extra}")


async def test_lists_answer_200_without_a_cursor(
    lists: list[tuple[httpx.AsyncClient, str, dict[str, str]]],
) -> None:
    """The lists above are reachable as the roles used: a 422 there is the cursor's, not a 403."""
    for c, path, extra in lists:
        r = await c.get(path, params=extra)
        assert r.status_code == 200, (path, r.text[:300])


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)
timestamps = st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())
forged = st.lists(
    json_values | timestamps | st.uuids().map(str) | st.just(WHEN), min_size=0, max_size=4
).map(lambda values: forge(*values))
cursor_text = st.text(alphabet=st.characters(codec="ascii", exclude_characters="\x00"))


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(cursor=forged | cursor_text)
async def test_any_cursor_is_a_page_or_a_422(
    lists: list[tuple[httpx.AsyncClient, str, dict[str, str]]], cursor: str
) -> None:
    """Whatever a client sends as ``cursor``: a page, or a 422 on the cursor; never a 5xx."""
    for c, path, extra in lists:
        r = await c.get(path, params={**extra, "cursor": cursor})
        if r.status_code != 200:
            assert_cursor_422(r, f"{path} {extra} cursor={cursor!r}")


@pytest.mark.parametrize(
    "after", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-01-01T00:00:00"]
)
async def test_fhir_search_bad_cursor_is_400_operation_outcome(
    app: Any, client: httpx.AsyncClient, after: str
) -> None:
    s = await create_session(client)
    cursor = base64.urlsafe_b64encode(after.encode()).decode().rstrip("=")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://vigil.test",
        headers=client.headers,
    ) as c:
        r = await c.get(
            "/fhir/R4/Observation", params={"patient": s["patient_id"], "_cursor": cursor}
        )
    assert r.status_code == 400, r.text[:300]
    assert r.json()["resourceType"] == "OperationOutcome"
