"""Strict types, timestamps within 1970–9999 and never infinite, readings long before the
session (SPEC §1, §4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from models.base import _finite_from_asyncpg, storable_timestamp
from tests.api.safety_helpers import checked_in_session, dosing_session, ok
from tests.factories import ago, create_patient, iso, post_vitals, vital


def problem_locs(r: httpx.Response) -> list[list[object]]:
    return [e["loc"] for e in r.json()["errors"]]


@pytest.mark.parametrize("value", ["128", True, None, [128]])
async def test_a_number_must_be_a_json_number(client: httpx.AsyncClient, value: object) -> None:
    session = await dosing_session(client)
    r = await post_vitals(
        client,
        session["id"],
        [{"code": "heart_rate", "value": value, "unit": "/min", "measured_at": iso(ago(5))}],
    )
    assert r.status_code == 422, r.text
    assert ["body", "observations", 0, "value"] in problem_locs(r)
    if isinstance(value, str):
        assert "must be a JSON number, not a string" in r.text
    # an integer JSON number is a number
    ok_item = {"code": "heart_rate", "value": 72, "unit": "/min", "measured_at": iso(ago(5))}
    assert (await post_vitals(client, session["id"], [ok_item])).status_code == 201


async def test_numbers_and_booleans_elsewhere_are_strict_too(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/patients",
        json={
            "mrn": "MRN-strict-1",
            "given_name": "Ana",
            "family_name": "Ruiz",
            "birth_date": "1984-03-09",
            "sex": "female",
            "height_cm": "165",
        },
    )
    assert r.status_code == 422
    assert ["body", "height_cm"] in problem_locs(r)
    session = await checked_in_session(client)
    r = await client.post(
        f"/v1/sessions/{session['id']}/transitions", json={"to": "cancelled", "reason": 5}
    )
    assert r.status_code == 422


@pytest.mark.parametrize(
    "measured_at",
    [
        1764590400,  # a Unix time
        "1764590400",
        "2026-12-01T09:00:00",  # no offset
        "2026-12-01 09:00:00Z",  # not RFC 3339's "T"
        "1969-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "9999-01-01T00:00:01Z",
    ],
)
async def test_a_timestamp_is_an_rfc3339_string_between_1970_and_9999(
    client: httpx.AsyncClient, measured_at: object
) -> None:
    session = await dosing_session(client)
    r = await post_vitals(
        client,
        session["id"],
        [{"code": "heart_rate", "value": 70, "unit": "/min", "measured_at": measured_at}],
    )
    assert r.status_code == 422, r.text
    assert ["body", "observations", 0, "measured_at"] in problem_locs(r)


async def test_timestamps_in_query_parameters_are_strict(client: httpx.AsyncClient) -> None:
    session = await dosing_session(client)
    sid = session["id"]
    for since in ("1764590400", "0001-01-01T00:00:00Z", "2026-12-01T09:00:00"):
        r = await client.get(f"/v1/sessions/{sid}/vitals", params={"since": since})
        assert r.status_code == 422, (since, r.text)
    r = await client.get(f"/v1/sessions/{sid}/vitals", params={"since": iso(ago(60))})
    assert r.status_code == 200
    r = await client.get("/v1/sessions", params={"from": "1764590400"})
    assert r.status_code == 422
    r = await client.get("/v1/sessions", params={"to": "9999-12-31T00:00:00Z"})
    assert r.status_code == 422


async def test_a_session_scheduled_before_1970_is_refused(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client)
    r = await client.post(
        "/v1/sessions",
        json={
            "patient_id": patient["id"],
            "dosing_plan_id": "6a1c3a38-4c55-4e7d-9c8c-0d4f1e2b3a4c",
            "scheduled_at": "0001-01-01T00:00:00Z",
        },
    )
    assert r.status_code == 422
    assert ["body", "scheduled_at"] in problem_locs(r)


def test_the_column_type_never_stores_or_reads_an_infinity() -> None:
    with pytest.raises(ValueError, match="outside"):
        storable_timestamp(datetime(1, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="outside"):
        storable_timestamp(datetime.max.replace(tzinfo=UTC))
    fine = datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert storable_timestamp(fine) is not None
    # what asyncpg reads a stored -infinity / infinity as
    assert _finite_from_asyncpg(datetime(1, 1, 1, tzinfo=UTC)) == datetime(1970, 1, 1, tzinfo=UTC)
    assert _finite_from_asyncpg(datetime.max.replace(tzinfo=UTC)) == datetime(
        9999, 1, 1, tzinfo=UTC
    )
    assert _finite_from_asyncpg(fine) is fine


async def test_a_reading_more_than_12_hours_before_check_in_is_422(
    client: httpx.AsyncClient,
) -> None:
    session = await checked_in_session(client, at=30)
    sid = session["id"]
    record = await ok(await client.get(f"/v1/sessions/{sid}"))
    checked_in = datetime.fromisoformat(record["checked_in_at"])
    too_early = checked_in - timedelta(hours=12, minutes=1)
    r = await post_vitals(client, sid, [vital("heart_rate", 70, "/min", too_early)])
    assert r.status_code == 422
    assert ["body", "observations", 0, "measured_at"] in problem_locs(r)
    assert "more than 12 hours before" in r.text
    edge = checked_in - timedelta(hours=12)
    assert (
        await post_vitals(client, sid, [vital("heart_rate", 70, "/min", edge)])
    ).status_code == 201


async def test_a_reading_long_before_a_scheduled_session_is_422(client: httpx.AsyncClient) -> None:
    from tests.factories import create_session

    session = await create_session(client)  # scheduled an hour from now, not checked in
    record = await ok(await client.get(f"/v1/sessions/{session['id']}"))
    scheduled = datetime.fromisoformat(record["scheduled_at"])
    r = await post_vitals(
        client, session["id"], [vital("spo2", 98, "%", scheduled - timedelta(hours=13))]
    )
    assert r.status_code == 422
    assert "scheduled" in r.text
