from __future__ import annotations

import uuid

import httpx
import pytest

from tests.factories import create_patient


async def test_create_read_and_etag(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client)
    r = await client.get(f"/v1/patients/{patient['id']}")
    assert r.status_code == 200
    assert r.headers["etag"] == '"1"'
    assert r.json()["mrn"] == patient["mrn"]
    assert r.json()["created_at"].endswith("Z")


async def test_duplicate_mrn_is_409_and_first_record_intact(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client)
    r = await client.post(
        "/v1/patients",
        json={
            "mrn": patient["mrn"],
            "given_name": "X",
            "family_name": "Y",
            "birth_date": "1990-01-01",
            "sex": "male",
        },
    )
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert (await client.get(f"/v1/patients/{patient['id']}")).json()["given_name"] == "Ana"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"sex": "f"}, ["body", "sex"]),
        ({"birth_date": "2999-01-01"}, ["body", "birth_date"]),
        ({"height_cm": -3}, ["body", "height_cm"]),
        ({"unknown_field": 1}, ["body", "unknown_field"]),
        ({"mrn": ""}, ["body", "mrn"]),
    ],
)
async def test_invalid_patient_is_422_with_location(
    client: httpx.AsyncClient, body: dict[str, object], loc: list[str]
) -> None:
    base = {
        "mrn": f"M-{uuid.uuid4().hex[:8]}",
        "given_name": "A",
        "family_name": "B",
        "birth_date": "1980-01-01",
        "sex": "female",
    }
    r = await client.post("/v1/patients", json={**base, **body})
    assert r.status_code == 422
    problem = r.json()
    assert problem["status"] == 422
    assert loc in [e["loc"] for e in problem["errors"]]


async def test_missing_field_is_422(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/patients", json={"mrn": "x"})
    assert r.status_code == 422
    missing = {tuple(e["loc"]) for e in r.json()["errors"]}
    assert ("body", "given_name") in missing


async def test_patch_honours_if_match(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client)
    url = f"/v1/patients/{patient['id']}"
    r = await client.patch(url, json={"height_cm": 170}, headers={"If-Match": '"1"'})
    assert r.status_code == 200
    assert r.headers["etag"] == '"2"'
    assert r.json()["height_cm"] == 170
    stale = await client.patch(url, json={"height_cm": 171}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert (await client.get(url)).json()["height_cm"] == 170


async def test_patch_cannot_change_mrn_or_null_required(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client)
    url = f"/v1/patients/{patient['id']}"
    assert (await client.patch(url, json={"mrn": "NEW"})).status_code == 422
    assert (await client.patch(url, json={"given_name": None})).status_code == 422


async def test_search_and_keyset_pagination(client: httpx.AsyncClient) -> None:
    tag = uuid.uuid4().hex[:8]
    for i in range(5):
        await create_patient(client, family_name=f"Pag{tag}{i}")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"q": f"pag{tag}", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/patients", params=params)).json()
        seen += [p["family_name"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"Pag{tag}{i}" for i in range(5)]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"cursor": "garbage!"}])
async def test_bad_paging_is_422(client: httpx.AsyncClient, params: dict[str, object]) -> None:
    assert (await client.get("/v1/patients", params=params)).status_code == 422


@pytest.mark.parametrize("pid", ["not-a-uuid", str(uuid.uuid4())])
async def test_unknown_patient_is_404(client: httpx.AsyncClient, pid: str) -> None:
    r = await client.get(f"/v1/patients/{pid}")
    assert r.status_code == 404
    assert r.json()["title"] == "Not found"


async def search(client: httpx.AsyncClient, q: str, **params: object) -> list[str]:
    r = await client.get("/v1/patients", params={"q": q, **params})
    assert r.status_code == 200, r.text
    return [p["family_name"] for p in r.json()["items"]]


async def test_search_is_case_insensitive_beyond_ascii(client: httpx.AsyncClient) -> None:
    tag = uuid.uuid4().hex[:8]
    await create_patient(client, family_name=f"Ávila{tag}")
    await create_patient(client, family_name=f"ÖZTÜRK{tag}", given_name="Çağla")
    for q in (f"Ávila{tag}", f"ávila{tag}", f"ÁVILA{tag}", f"vila{tag}"):
        assert await search(client, q) == [f"Ávila{tag}"], q
    for q in (f"öztürk{tag}", f"Öztürk{tag}", f"ÖZTÜRK{tag}"):
        assert await search(client, q) == [f"ÖZTÜRK{tag}"], q
    assert f"ÖZTÜRK{tag}" in await search(client, "çağla", limit=500)


async def test_keyset_paging_over_non_ascii_names_skips_nothing(
    client: httpx.AsyncClient,
) -> None:
    tag = uuid.uuid4().hex[:8]
    names = [f"Ávila{tag}", f"Álvarez{tag}", f"Ábalos{tag}", f"ágreda{tag}", f"Avila{tag}"]
    for name in names:
        await create_patient(client, family_name=name, given_name=f"Zed{tag}")
    whole = await search(client, f"zed{tag}")
    assert sorted(whole) == sorted(names)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"q": f"zed{tag}", "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/patients", params=params)).json()
        seen += [p["family_name"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == whole


async def test_like_wildcards_in_q_are_literal(client: httpx.AsyncClient) -> None:
    tag = uuid.uuid4().hex[:8]
    names = {c: f"{tag}x{c}y" for c in ("_", "%", "\\", "z")}
    for name in names.values():
        await create_patient(client, family_name=name)
    for c, name in names.items():
        assert await search(client, f"{tag}x{c}y") == [name], c
    for q in ("_", "%", "\\"):
        r = await client.get("/v1/patients", params={"q": q, "limit": 500})
        for p in r.json()["items"]:
            assert q in p["family_name"] + p["given_name"] + p["mrn"], (q, p)
