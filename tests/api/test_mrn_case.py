"""MRNs are unique regardless of letter case, compared after Unicode case folding, the same on
both databases (SPEC §9)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.factories import create_patient


@pytest.mark.parametrize(
    ("first", "second"),
    [("ab-{u}", "AB-{u}"), ("Straße-{u}", "STRASSE-{u}"), ("Ámr-{u}", "ámr-{u}")],
)
async def test_an_mrn_differing_only_in_case_is_a_duplicate(
    client: httpx.AsyncClient, first: str, second: str
) -> None:
    u = uuid.uuid4().hex[:8]
    await create_patient(client, mrn=first.format(u=u))
    r = await client.post(
        "/v1/patients",
        json={
            "mrn": second.format(u=u),
            "given_name": "Ana",
            "family_name": "Ruiz",
            "birth_date": "1984-03-09",
            "sex": "female",
        },
    )
    assert r.status_code == 409, r.text
    assert r.json()["field"] == "mrn"
    assert "letter case" in r.json()["detail"]


async def test_different_mrns_are_different_patients(client: httpx.AsyncClient) -> None:
    u = uuid.uuid4().hex[:8]
    await create_patient(client, mrn=f"A-{u}-1")
    await create_patient(client, mrn=f"A-{u}-2")
