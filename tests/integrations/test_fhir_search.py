"""FHIR search and resources as SPEC §8 says (issue 19): every answer valid R4 (fhir_r4.r4).

Search: ``patient``/``subject`` in every reference form, exactly ``_count`` entries a page (a BP
panel is one), ``_sort``, ``total``, ``_summary=count``, POST ``_search``, every ``date`` prefix
(the calendar's ends too), unknown parameters. Resources: Encounter, ``meta.versionId`` and
``ETag``. Links on the configured public base, never the request's Host.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from api.fhir.translate.dates import date_matches, parse_date_param
from tests.factories import iso, now, post_vitals, transition, vital
from tests.integrations.fhir_r4 import r4
from tests.integrations.helpers import checked_in_session
from tests.integrations.test_fhir import outcome

SEARCH = "/fhir/R4/Observation"


def codes(bundle: dict[str, Any]) -> list[str]:
    return [
        e["resource"]["code"]["coding"][0]["code"]
        for e in bundle.get("entry", [])
        if e["search"]["mode"] == "match"
    ]


def times(bundle: dict[str, Any]) -> list[str]:
    return [
        e["resource"]["effectiveDateTime"]
        for e in bundle.get("entry", [])
        if e["search"]["mode"] == "match"
    ]


def next_link(bundle: dict[str, Any]) -> str | None:
    return next((x["url"] for x in bundle["link"] if x["relation"] == "next"), None)


async def search(client: httpx.AsyncClient, params: Any, status: int = 200) -> dict[str, Any]:
    r = await client.get(SEARCH, params=params)
    assert r.status_code == status, r.text
    return r4(r.json())


def base(app: FastAPI) -> str:
    return str(app.state.settings.public_base_url) + "/fhir/R4"


async def session_with_readings(
    client: httpx.AsyncClient, t0: datetime, rounds: int = 3
) -> dict[str, Any]:
    """A checked-in session with ``rounds`` rounds of readings, five minutes apart, each round
    four readings at one time: a BP pair (one panel entry), heart rate and SpO2."""
    session = await checked_in_session(client, minutes_ago=60)
    readings = []
    for n in range(rounds):
        at = t0 - timedelta(minutes=50 - 5 * n)
        readings += [
            vital("systolic_bp", 120 + n, "mm[Hg]", at),
            vital("diastolic_bp", 80, "mm[Hg]", at),
            vital("heart_rate", 70 + n, "/min", at),
            vital("spo2", 97, "%", at),
        ]
    r = await post_vitals(client, session["id"], readings)
    assert r.status_code == 201, r.text
    return session


# --------------------------------------------------------------------------------------------
# patient, subject, encounter
# --------------------------------------------------------------------------------------------


async def test_patient_subject_and_every_reference_form_find_the_same(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    session = await session_with_readings(client, now(), rounds=1)
    pid, sid = session["patient_id"], session["id"]
    forms = [
        {"patient": pid},
        {"patient": f"Patient/{pid}"},
        {"patient": f"{base(app)}/Patient/{pid}"},
        {"subject": f"Patient/{pid}"},
        {"subject": pid},
        {"encounter": f"Encounter/{sid}"},
        {"encounter": sid},
        {"patient": f"Patient/{pid}", "encounter": f"Encounter/{sid}"},
    ]
    for params in forms:
        bundle = await search(client, params)
        assert bundle["total"] == 3, params
        assert sorted(codes(bundle)) == ["59408-5", "85354-9", "8867-4"], params
    for names_nothing in (
        {"subject": f"Group/{pid}"},
        {"patient": f"https://elsewhere.example/fhir/R4/Patient/{pid}"},
        {"patient": str(uuid.uuid4())},
        {"patient": "not-an-id"},
        {"patient": pid, "encounter": str(uuid.uuid4())},
    ):
        bundle = await search(client, names_nothing)
        assert bundle["total"] == 0, names_nothing
        assert "entry" not in bundle, names_nothing
    outcome(await client.get(SEARCH, params={"code": "8867-4"}), 400)


# --------------------------------------------------------------------------------------------
# _count, next links, total, _sort, _summary
# --------------------------------------------------------------------------------------------


async def test_count_is_exact_even_when_readings_share_a_time(client: httpx.AsyncClient) -> None:
    session = await session_with_readings(client, now(), rounds=3)
    pid = session["patient_id"]
    pages: list[list[str]] = []
    bundle = await search(client, {"patient": pid, "_count": 2})
    while True:
        assert bundle["total"] == 9  # three rounds of panel, heart rate and SpO2
        ids = [e["resource"]["id"] for e in bundle.get("entry", [])]
        pages.append(ids)
        url = next_link(bundle)
        if url is None:
            break
        r = await client.get(url)
        assert r.status_code == 200, r.text
        bundle = r4(r.json())
    assert [len(p) for p in pages] == [2, 2, 2, 2, 1]
    every = [i for p in pages for i in p]
    assert len(every) == len(set(every)) == 9
    assert sum(i.startswith("bp-") for i in every) == 3  # each panel one entry, never split


async def test_sort_newest_first_is_the_latest_reading(client: httpx.AsyncClient) -> None:
    t0 = now()
    session = await session_with_readings(client, t0, rounds=3)
    pid = session["patient_id"]
    newest = iso(t0 - timedelta(minutes=40))
    oldest = iso(t0 - timedelta(minutes=50))

    latest = await search(client, {"patient": pid, "code": "8867-4", "_sort": "-date", "_count": 1})
    assert times(latest) == [newest]
    assert latest["entry"][0]["resource"]["valueQuantity"]["value"] == 72
    first = await search(client, {"patient": pid, "code": "8867-4", "_sort": "date", "_count": 1})
    assert times(first) == [oldest]

    # Newest first across pages too.
    seen: list[str] = []
    bundle = await search(client, {"patient": pid, "_sort": "-date", "_count": 4})
    while True:
        seen += times(bundle)
        url = next_link(bundle)
        if url is None:
            break
        bundle = r4((await client.get(url)).json())
    assert len(seen) == 9
    assert seen == sorted(seen, reverse=True)
    outcome(await client.get(SEARCH, params={"patient": pid, "_sort": "value"}), 400)


async def test_summary_count_answers_the_total_alone(client: httpx.AsyncClient) -> None:
    session = await session_with_readings(client, now(), rounds=2)
    pid = session["patient_id"]
    for params in ({"patient": pid, "_summary": "count"}, {"patient": pid, "_count": 0}):
        bundle = await search(client, params)
        assert bundle["total"] == 6
        assert "entry" not in bundle
    bundle = await search(client, {"patient": pid, "code": "85354-9", "_summary": "count"})
    assert bundle["total"] == 2
    outcome(await client.get(SEARCH, params={"patient": pid, "_count": "many"}), 400)


async def test_post_search_form_encoded_is_the_same_search(client: httpx.AsyncClient) -> None:
    session = await session_with_readings(client, now(), rounds=2)
    pid = session["patient_id"]
    params = {"patient": f"Patient/{pid}", "_sort": "-date", "_count": "3"}
    by_get = await search(client, params)
    r = await client.post(f"{SEARCH}/_search", data=params)
    assert r.status_code == 200, r.text
    by_post = r4(r.json())
    assert [e["resource"]["id"] for e in by_post["entry"]] == [
        e["resource"]["id"] for e in by_get["entry"]
    ]
    assert by_post["total"] == by_get["total"] == 6
    # The next link of a POST search is a GET that continues it.
    r = await client.get(str(next_link(by_post)))
    assert r.status_code == 200
    assert len(r.json()["entry"]) == 3


async def test_unknown_parameters_are_listed_or_strictly_refused(
    client: httpx.AsyncClient,
) -> None:
    session = await session_with_readings(client, now(), rounds=1)
    pid = session["patient_id"]
    bundle = await search(client, {"patient": pid, "value-quantity": "gt100", "_elements": "id"})
    assert bundle["total"] == 3
    [info] = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert info["resource"]["resourceType"] == "OperationOutcome"
    listed = {i["expression"][0] for i in info["resource"]["issue"]}
    assert listed == {"value-quantity", "_elements"}
    assert {i["severity"] for i in info["resource"]["issue"]} == {"warning"}
    assert len(codes(bundle)) == 3  # the matches are all there

    r = await client.get(
        SEARCH,
        params={"patient": pid, "value-quantity": "gt100"},
        headers={"Prefer": "handling=strict"},
    )
    body = outcome(r, 400)
    assert "value-quantity" in body["issue"][0]["diagnostics"]
    r = await client.get(SEARCH, params={"patient": pid}, headers={"Prefer": "handling=strict"})
    assert r.status_code == 200
    assert all(e["search"]["mode"] == "match" for e in r.json()["entry"])


# --------------------------------------------------------------------------------------------
# date: every prefix, and the ends of the calendar
# --------------------------------------------------------------------------------------------


async def test_every_date_prefix(client: httpx.AsyncClient) -> None:
    t0 = now()
    session = await session_with_readings(client, t0, rounds=3)
    pid = session["patient_id"]
    middle = t0 - timedelta(minutes=45)  # the second round
    second = f"{middle:%Y-%m-%dT%H:%M:%S}Z"

    async def found(value: str) -> int:
        return int((await search(client, {"patient": pid, "date": value}))["total"])

    assert await found(f"eq{second}") == 3
    assert await found(second) == 3
    assert await found(f"ne{second}") == 6
    assert await found(f"lt{second}") == 3
    assert await found(f"eb{second}") == 3
    assert await found(f"le{second}") == 6
    assert await found(f"gt{second}") == 3
    assert await found(f"sa{second}") == 3
    assert await found(f"ge{second}") == 6
    # ap: within a tenth of the gap to now (45 min: 4.5 min) on each side, so not the rounds
    # five minutes away.
    assert await found(f"ap{second}") == 3
    assert await found(f"ap{(middle - timedelta(hours=3)):%Y-%m-%dT%H:%M:%S}Z") == 0


@pytest.mark.parametrize(
    "value",
    [
        "ge9999-12-31",
        "gt9999-12-31",
        "9999",
        "eq9999-12-31T23:59:59-14:00",
        "le0001-01-01T00:00:00+14:00",
        "ap9999-12-31",
        "ne9999-12",
        "lt0001",
    ],
)
async def test_dates_at_the_calendars_ends_are_a_result_not_a_500(
    client: httpx.AsyncClient, value: str
) -> None:
    session = await checked_in_session(client)
    bundle = await search(client, {"patient": session["patient_id"], "date": value})
    assert bundle["total"] == 0


async def test_the_sql_search_matches_what_date_matches_says_for_every_prefix(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """The search runs SQL; :func:`date_matches` is the Python reading of the same prefixes.
    Readings on each edge of a minute and a second, searched with every prefix at several
    precisions (and past the calendar's ends): the totals are what date_matches counts."""
    session = await checked_in_session(client, minutes_ago=60)
    minute = (now() - timedelta(minutes=45)).replace(second=0)
    second = minute + timedelta(seconds=30)
    moments = [
        minute - timedelta(microseconds=1),
        minute,
        second - timedelta(microseconds=1),
        second,
        second + timedelta(microseconds=500_000),
        minute + timedelta(seconds=59, microseconds=999_999),
        minute + timedelta(minutes=1),
    ]
    readings = [vital("heart_rate", 60 + n, "/min", at) for n, at in enumerate(moments)]
    r = await post_vitals(client, session["id"], readings)
    assert r.status_code == 201, r.text
    day_tz = ZoneInfo(app.state.settings.clinic_tz)
    values = [
        f"{minute:%Y-%m-%dT%H:%M}Z",
        f"{second:%Y-%m-%dT%H:%M:%S}Z",
        f"{second:%Y-%m-%dT%H:%M:%S}.5Z",
        f"{minute:%Y-%m-%d}",
        "9999-12-31",
        "0001",
    ]
    for value in values:
        for prefix in ("eq", "ne", "lt", "gt", "le", "ge", "sa", "eb"):
            searched, start, end = parse_date_param(prefix + value, day_tz=day_tz)
            expected = sum(date_matches(searched, start, end, t) for t in moments)
            bundle = await search(
                client, {"patient": session["patient_id"], "date": prefix + value}
            )
            assert (prefix + value, bundle["total"]) == (prefix + value, expected)


# --------------------------------------------------------------------------------------------
# Links: the configured public base, never the Host header
# --------------------------------------------------------------------------------------------


async def test_links_use_the_public_base_not_the_host_header(
    app: FastAPI, staff: Any, client: httpx.AsyncClient
) -> None:
    session = await session_with_readings(client, now(), rounds=2)
    ours = base(app)
    headers = {"Authorization": f"Bearer {staff.tokens['clinician']}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://attacker.example", headers=headers
    ) as forged:
        bundle = r4(
            (
                await forged.get(
                    SEARCH,
                    params={"patient": session["patient_id"], "_count": 1},
                    headers={"X-Forwarded-Host": "attacker.example"},
                )
            ).json()
        )
        urls = [x["url"] for x in bundle["link"]] + [e["fullUrl"] for e in bundle["entry"]]
        assert all(u.startswith(ours + "/") for u in urls), urls
        metadata = (await forged.get("/fhir/R4/metadata")).json()
        assert metadata["implementation"]["url"] == ours
        observation = bundle["entry"][0]["resource"]
        assert "attacker" not in str(bundle)
        assert "attacker" not in str(observation)


# --------------------------------------------------------------------------------------------
# Resources: Encounter, meta.versionId, ETag
# --------------------------------------------------------------------------------------------


async def test_an_observations_encounter_resolves(client: httpx.AsyncClient) -> None:
    session = await session_with_readings(client, now(), rounds=1)
    bundle = await search(client, {"patient": session["patient_id"]})
    reference = bundle["entry"][0]["resource"]["encounter"]["reference"]
    assert reference == f"Encounter/{session['id']}"

    r = await client.get(f"/fhir/R4/{reference}")
    assert r.status_code == 200, r.text
    encounter = r4(r.json())
    assert encounter["id"] == session["id"]
    assert encounter["status"] == "arrived"  # checked in
    assert encounter["class"]["code"] == "AMB"
    assert encounter["subject"] == {"reference": f"Patient/{session['patient_id']}"}
    assert encounter["period"]["start"] == session["checked_in_at"]
    assert "end" not in encounter["period"]
    assert encounter["location"] == [{"location": {"display": "chair-3"}}]
    assert encounter["meta"]["versionId"] == str(session["version"])
    assert r.headers["etag"] == f'W/"{session["version"]}"'

    cancelled = await transition(client, session["id"], "cancelled", reason="felt unwell today")
    assert cancelled.status_code == 200, cancelled.text
    r = await client.get(f"/fhir/R4/Encounter/{session['id']}")
    encounter = r4(r.json())
    assert encounter["status"] == "cancelled"
    assert encounter["period"]["end"] == cancelled.json()["ended_at"]
    assert int(encounter["meta"]["versionId"]) > session["version"]
    assert r.headers["etag"] == f'W/"{encounter["meta"]["versionId"]}"'

    outcome(await client.get(f"/fhir/R4/Encounter/{uuid.uuid4()}"), 404)
    outcome(await client.get("/fhir/R4/Encounter/not-an-id"), 404)


async def test_resources_carry_their_version_and_reads_an_etag(client: httpx.AsyncClient) -> None:
    t0 = now()
    session = await checked_in_session(client, minutes_ago=30)
    r = await post_vitals(client, session["id"], [vital("heart_rate", 71, "/min", t0)])
    reading = r.json()["items"][0]

    r = await client.get(f"/fhir/R4/Observation/{reading['id']}")
    observation = r4(r.json())
    assert observation["meta"]["versionId"] == "1"
    assert r.headers["etag"] == 'W/"1"'

    r = await client.post(
        f"/v1/sessions/{session['id']}/vitals/{reading['id']}/retract",
        json={"reason": "entered for the wrong patient"},
    )
    assert r.status_code == 200, r.text
    r = await client.get(f"/fhir/R4/Observation/{reading['id']}")
    retracted = r4(r.json())
    assert retracted["status"] == "entered-in-error"
    assert retracted["meta"]["versionId"] == "2"
    assert r.headers["etag"] == 'W/"2"'
    assert retracted["meta"]["lastUpdated"] >= observation["meta"]["lastUpdated"]

    r = await client.get(f"/fhir/R4/Patient/{session['patient_id']}")
    patient = r4(r.json())
    assert patient["meta"]["versionId"] == "1"
    assert r.headers["etag"] == 'W/"1"'
    r = await client.patch(f"/v1/patients/{session['patient_id']}", json={"given_name": "Ana M."})
    assert r.status_code == 200, r.text
    r = await client.get(f"/fhir/R4/Patient/{session['patient_id']}")
    assert r4(r.json())["meta"]["versionId"] == "2"
    assert r.headers["etag"] == 'W/"2"'
