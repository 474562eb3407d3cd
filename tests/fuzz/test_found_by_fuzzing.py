"""Regressions for what the schemathesis fuzzer found: each was a 5xx or a wrong status."""

from __future__ import annotations

import httpx

from tests.factories import create_patient, create_plan


async def test_revision_number_beyond_integer_range_is_404_not_500(
    client: httpx.AsyncClient,
) -> None:
    patient = await create_patient(client)
    plan = await create_plan(client, patient["id"])
    r = await client.get(f"/v1/dosing-plans/{plan['id']}/revisions/6801649389992956")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


async def test_nul_character_in_a_json_string_is_422_on_every_backend(
    client: httpx.AsyncClient,
) -> None:
    body = (
        b'{"mrn": "A-1\\u0000", "given_name": "Ana", "family_name": "Ruiz",'
        b' "birth_date": "1984-03-09", "sex": "female"}'
    )
    r = await client.post(
        "/v1/patients", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"] == [{"loc": ["body"], "msg": "NUL characters are not accepted"}]


async def test_escaped_backslash_before_u0000_text_is_not_a_nul(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client, given_name="a\\u0000b")
    assert patient["given_name"] == "a\\u0000b"


async def test_nul_character_in_the_query_string_is_422(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/patients?q=Ru%00iz")
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["query"]


async def test_streamed_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"observations": ['
        for _ in range(200):
            yield b" " * 20_000

    r = await client.post(
        "/v1/sessions/00000000-0000-0000-0000-000000000000/vitals",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"


async def test_nul_character_in_a_login_form_is_422(anon_client: httpx.AsyncClient) -> None:
    r = await anon_client.post(
        "/v1/auth/token",
        content=b"grant_type=password&username=ad%00min&password=x",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"


async def test_timestamp_that_overflows_in_utc_is_422(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client)
    plan = await create_plan(client, patient["id"])
    r = await client.post(
        "/v1/sessions",
        json={
            "patient_id": patient["id"],
            "dosing_plan_id": plan["id"],
            "scheduled_at": "0001-01-01T00:00:00+05:00",
        },
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "scheduled_at"]
    r = await client.post(
        "/v1/sessions/00000000-0000-0000-0000-000000000000/vitals",
        json={
            "observations": [
                {
                    "code": "spo2",
                    "value": 97,
                    "unit": "%",
                    "measured_at": "0001-01-01T00:00:00+05:00",
                }
            ]
        },
    )
    assert r.status_code == 422


async def test_query_timestamps_that_overflow_in_utc_are_422(client: httpx.AsyncClient) -> None:
    for path in (
        "/v1/sessions?from=0001-01-01T00:00:00%2B05:00",
        "/v1/sessions?to=9999-12-31T23:59:59-05:00",
    ):
        r = await client.get(path)
        assert r.status_code == 422, (path, r.text)
        assert r.headers["content-type"] == "application/problem+json"
