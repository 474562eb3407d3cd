"""HL7 v2 ORU^R01 (IHE PCD-01) over HTTP and MLLP: ACKs, routing, replays, quarantine."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from api.integrations.mllp import MllpServer, frame
from models import AuditEvent
from tests.conftest import Staff
from tests.factories import ago, create_patient, create_plan, create_session, transition
from tests.integrations.helpers import (
    BPM,
    DIA,
    HEADER,
    HR,
    MMHG,
    PCT,
    SPO2,
    SYS,
    ack_segments,
    bind,
    bound_session,
    checked_in_session,
    listener_client,
    new_device,
    obx,
    oru,
)

HL7 = {"content-type": "application/hl7-v2"}


async def send(
    integration: httpx.AsyncClient, message: str | bytes, content_type: str = "application/hl7-v2"
) -> httpx.Response:
    r = await integration.post(
        "/v1/integrations/hl7v2", content=message, headers={"content-type": content_type}
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(content_type)
    return r


async def readings(client: httpx.AsyncClient, session_id: str) -> list[dict[str, Any]]:
    return list((await client.get(f"/v1/sessions/{session_id}/vitals")).json()["items"])


def control() -> str:
    return f"MSG{uuid.uuid4().hex[:12]}"


async def test_a_monitor_message_is_stored_and_acknowledged(
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
) -> None:
    session, device = await bound_session(client, nurse_client, admin_client)
    eui = device["identifier"]
    at, cuff_at = ago(2), ago(5)
    message = oru(
        control(),
        [
            obx(1, HEADER, "", "", None, device=eui, status="X"),
            obx(2, HR, "72", BPM, at, device=eui),  # each row names its device (SPEC §8)
            obx(3, SPO2, "97", PCT, at, device=eui),
            obx(4, SYS, "128", MMHG, cuff_at, device=eui),
            obx(5, DIA, "82", "mmHg", cuff_at, device=eui),  # a plain unit spelling is accepted
            obx(6, "150488^MDC_PULS_OXIM_PERF_REL^MDC", "3.1", PCT, at),  # untracked numeric
            obx(7, "0^MDC_ECG_RHYTHM^MDC", "Sinus", "", at, value_type="ST"),
        ],
        sep="\n",  # segments split by LF, as some gateways send them
    )
    r = await send(integration_client, message, "x-application/hl7-v2+er7")
    ack = ack_segments(r.text)
    assert ack["MSA"][1] == "AA"
    assert "stored 4" in ack["MSA"][3]
    assert "skipped 3" in ack["MSA"][3]
    assert r.headers["x-hl7-ack-code"] == "AA"
    stored = await readings(client, session["id"])
    assert sorted((o["code"], o["value"]) for o in stored) == [
        ("diastolic_bp", 82),
        ("heart_rate", 72),
        ("spo2", 97),
        ("systolic_bp", 128),
    ]
    assert all(o["external_id"].startswith("hl7v2:") for o in stored)


async def test_the_same_message_twice_gets_the_same_ack_and_stores_once(
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
) -> None:
    session, device = await bound_session(client, nurse_client, admin_client)
    message = oru(control(), [obx(1, HR, "70", BPM, ago(3), device=device["identifier"])])
    first = await send(integration_client, message)
    second = await send(integration_client, "\x0b" + message + "\x1c\r", "text/plain")
    assert second.text == first.text  # the stored original, byte for byte
    assert len(await readings(client, session["id"])) == 1


async def test_routing_by_mrn_when_no_device_is_bound(
    client: httpx.AsyncClient, integration_client: httpx.AsyncClient
) -> None:
    patient = await create_patient(client)
    plan = await create_plan(client, patient["id"])
    session = await create_session(client, plan=plan)
    r = await transition(client, session["id"], "checked_in", weight_kg=70, at=ago(30))
    assert r.status_code == 200
    message = oru(
        control(),
        [obx(1, SPO2, "96", PCT, ago(2), device="0009FBFFFF9B42B3")],  # not registered
        mrn=patient["mrn"],
    )
    r = await send(integration_client, message)
    assert ack_segments(r.text)["MSA"][1] == "AA"
    assert [o["value"] for o in await readings(client, session["id"])] == [96]


async def test_garbage_and_wrong_message_types_are_refused_and_kept(
    integration_client: httpx.AsyncClient, admin_client: httpx.AsyncClient
) -> None:
    r = await send(integration_client, "this is not HL7", "text/plain")
    ack = ack_segments(r.text)
    assert ack["MSA"][1] == "AR"
    assert "ERR" in ack

    adt = oru(control(), [], message_type="ADT^A01^ADT_A01")
    r = await send(integration_client, adt)
    ack = ack_segments(r.text)
    assert ack["MSA"][1] == "AR"
    assert ack["ERR"][3].startswith("200^")
    assert "unsupported message type ADT\\S\\A01" in ack["ERR"][8]  # ^ escaped as \S\

    kept = (
        await admin_client.get(
            "/v1/integrations/quarantine", params={"channel": "hl7v2", "limit": 500}
        )
    ).json()["items"]
    messages = [q["raw"].get("message", "") for q in kept]
    assert "this is not HL7" in messages
    assert any("ADT^A01" in m for m in messages)


async def test_rejected_rows_give_ae_and_are_quarantined(
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
) -> None:
    session, device = await bound_session(client, nurse_client, admin_client)
    eui = device["identifier"]
    control_id = control()
    message = oru(
        control_id,
        [
            obx(1, HR, "71", BPM, ago(2), device=eui),
            obx(2, SPO2, "97", MMHG, ago(2), device=eui),  # unit mismatch
            obx(3, "999999^MDC_UNKNOWN^MDC", "5", PCT, ago(2), device=eui),  # untracked: skipped
            obx(4, HR, "400", BPM, ago(2), device=eui),  # impossible
        ],
    )
    r = await send(integration_client, message)
    ack = ack_segments(r.text)
    assert ack["MSA"][1] == "AE"
    assert "OBX 2 unit_mismatch" in ack["ERR"][8]
    assert "OBX 4 invalid_value" in ack["ERR"][8]
    assert "untracked_code 1" in ack["MSA"][3]
    assert [o["value"] for o in await readings(client, session["id"])] == [71]
    kept = (
        await admin_client.get(
            "/v1/integrations/quarantine", params={"channel": "hl7v2", "limit": 500}
        )
    ).json()["items"]
    mine = sorted(
        (q["item_index"], q["reason"]) for q in kept if q["message_control_id"] == control_id
    )
    assert mine == [(2, "unit_mismatch"), (4, "invalid_value")]
    row = next(q for q in kept if q["message_control_id"] == control_id and q["item_index"] == 2)
    assert row["raw"]["obx"].startswith("OBX|2|NM|150456")


async def test_unbound_devices_and_readings_after_discharge_are_rejected(
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
) -> None:
    r = await send(integration_client, oru(control(), [obx(1, HR, "70", BPM, ago(1))]))
    ack = ack_segments(r.text)
    assert ack["MSA"][1] == "AE"
    assert "unrouted" in ack["ERR"][8]

    unregistered = oru(control(), [obx(1, HR, "70", BPM, ago(1), device="00A0370098006641")])
    ack = ack_segments((await send(integration_client, unregistered)).text)
    assert "unknown_device" in ack["ERR"][8]
    assert ack["ERR"][3].startswith("204^")

    session = await checked_in_session(client, minutes_ago=50)
    device = await new_device(admin_client)
    await bind(nurse_client, session["id"], device["id"])
    r2 = await transition(client, session["id"], "cancelled", reason="unwell", at=ago(20))
    assert r2.status_code == 200
    late = oru(control(), [obx(1, HR, "70", BPM, ago(5), device=device["identifier"])])
    ack = ack_segments((await send(integration_client, late)).text)
    assert ack["MSA"][1] == "AE"
    assert "not_routable" in ack["ERR"][8]  # the sender is not told about the session
    assert session["id"] not in ack["ERR"][8]
    kept = await admin_client.get(
        "/v1/integrations/quarantine", params={"device": device["identifier"]}
    )
    assert [q["reason"] for q in kept.json()["items"]] == ["session_ended"]
    assert session["id"] in kept.json()["items"][0]["detail"]


async def test_an_integration_key_is_needed(anon_client: httpx.AsyncClient) -> None:
    r = await anon_client.post("/v1/integrations/hl7v2", content=b"MSH|", headers=HL7)
    assert r.status_code == 401


async def test_mllp_over_a_real_socket(
    app: FastAPI,
    staff: Staff,
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
) -> None:
    session, device = await bound_session(client, nurse_client, admin_client)

    async def mllp_audit_rows() -> int:
        async with app.state.session_factory() as db:
            return int(
                await db.scalar(
                    select(func.count()).where(
                        AuditEvent.actor_id == staff.integration_client_id,  # type: ignore[arg-type]
                        AuditEvent.patient_id == uuid.UUID(session["patient_id"]),  # type: ignore[arg-type]
                    )
                )
                or 0
            )

    server = MllpServer(app, listener_client(staff.integration_client_id))
    port = await server.start("127.0.0.1", 0)
    serving = asyncio.create_task(server.serve_forever())
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        message = oru(control(), [obx(1, HR, "66", BPM, ago(1), device=device["identifier"])])
        acks = []
        for payload in (message, message, "garbage"):  # two frames in a row on one socket
            writer.write(frame(payload))
            await writer.drain()
            raw = await asyncio.wait_for(reader.readuntil(b"\x1c\r"), 10)
            assert raw.startswith(b"\x0b")
            acks.append(raw[1:-2].decode())
        writer.close()
        await writer.wait_closed()
    finally:
        serving.cancel()
        await server.close()
    assert ack_segments(acks[0])["MSA"][1] == "AA"
    assert acks[1] == acks[0]
    assert ack_segments(acks[2])["MSA"][1] == "AR"
    stored = await readings(client, session["id"])
    # recorded by the listener's integration client, like its HTTP pushes
    source = f"integration:{staff.integration_client_id}"
    assert [(o["value"], o["source"]) for o in stored] == [(66, source)]
    assert await mllp_audit_rows() >= 1  # the stored reading is on the audit trail


async def test_concurrent_copies_of_one_message_store_once(
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
) -> None:
    """A gateway retrying before the first answer: the (sender, MSH-10) claim decides."""
    session, device = await bound_session(client, nurse_client, admin_client)
    # the device named only in MSH-3 (HD.3 = EUI-64), as some vendors send it
    message = oru(
        control(),
        [obx(1, HR, "64", BPM, ago(2)), obx(2, SPO2, "98", PCT, ago(2))],
        sender=f"MINDRAY_VS900^{device['identifier']}^EUI-64",
    )
    responses = await asyncio.gather(*[send(integration_client, message) for _ in range(8)])
    assert len({r.text for r in responses}) == 1
    assert ack_segments(responses[0].text)["MSA"][1] == "AA"
    assert sorted(o["value"] for o in await readings(client, session["id"])) == [64, 98]


async def test_the_quarantine_is_an_administrators_paginated_list(
    admin_client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
) -> None:
    for _ in range(3):
        await send(integration_client, "not hl7 at all", "text/plain")
    seen: list[str] = []
    cursor = None
    for _ in range(100):
        params: dict[str, Any] = {"limit": 2, "channel": "hl7v2"}
        if cursor:
            params["cursor"] = cursor
        page = (await admin_client.get("/v1/integrations/quarantine", params=params)).json()
        seen += [q["id"] for q in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) >= 3
    assert (await nurse_client.get("/v1/integrations/quarantine")).status_code == 403
    r = await admin_client.get("/v1/integrations/quarantine", params={"cursor": "bad"})
    assert r.status_code == 422


# --------------------------------------------------------------------------------------------
# Training messages, character sets, and what a sender is not told
# --------------------------------------------------------------------------------------------


async def test_a_training_message_is_acknowledged_and_stores_nothing(
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
) -> None:
    session, device = await bound_session(client, nurse_client, admin_client)
    eui = device["identifier"]

    def message(processing_id: str, value: str) -> str:
        at = ago(int(value) % 7 + 2)  # a reading time of its own for each message
        rows = [obx(1, HR, value, BPM, at, device=eui), obx(2, HR, "x", BPM, at)]
        return oru(control(), rows).replace("|P|2.6|", f"|{processing_id}|2.6|", 1)

    training = await send(integration_client, message("T", "150"))  # would alert if stored
    ack = ack_segments(training.text)
    assert ack["MSA"][1] == "AA"  # even with a bad row: nothing is processed
    assert "training" in ack["MSA"][3]
    assert await readings(client, session["id"]) == []
    assert (await client.get(f"/v1/sessions/{session['id']}/alerts")).json()["items"] == []
    r = await admin_client.get("/v1/integrations/quarantine", params={"device": eui})
    assert r.json()["items"] == []

    for processing_id, value in (("P", "70"), ("D", "71")):  # production and debugging
        stored = ack_segments((await send(integration_client, message(processing_id, value))).text)
        assert stored["MSA"][1] == "AE"  # the bad row; the good one is stored
    assert sorted(o["value"] for o in await readings(client, session["id"])) == [70, 71]


async def test_the_ack_is_in_the_senders_character_set(
    integration_client: httpx.AsyncClient,
) -> None:
    base = oru(control(), [obx(1, HR, "70", BPM, ago(1))]).replace("|CLINIC|", "|Klinik Müller|")
    latin1 = base.replace("UNICODE UTF-8", "8859/1")
    r = await send(integration_client, latin1.encode("latin-1"))
    assert r.headers["content-type"] == "application/hl7-v2; charset=iso-8859-1"
    assert b"|Klinik M\xfcller|" in r.content  # latin-1 bytes, not UTF-8's \xc3\xbc
    assert r.content.decode("latin-1").split("\r")[0].split("|")[17] == "8859/1"

    utf8 = await send(integration_client, base.encode())
    assert "|Klinik Müller|" in utf8.content.decode("utf-8")
    assert utf8.headers["content-type"] == "application/hl7-v2; charset=utf-8"

    ascii_only = await send(integration_client, base.replace("UNICODE UTF-8", "").encode())
    assert ascii_only.headers["content-type"] == "application/hl7-v2; charset=us-ascii"
    assert max(ascii_only.content) < 0x80
    assert b"|Klinik M\\X00FC\\ller|" in ascii_only.content

    garbage = "MSH|^~\\&|GW|Klinik Müller|||20261201||ADT^A01|X1|P|2.6||||||8859/1"
    refused = await send(integration_client, garbage.encode("latin-1"))
    assert b"Klinik M\xfcller" in refused.content  # a refusal is in the sender's set too
    assert ack_segments(refused.content.decode("latin-1"))["MSA"][1] == "AR"


async def test_a_sender_cannot_tell_whether_an_mrn_exists(
    client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    integration_client: httpx.AsyncClient,
) -> None:
    patient = await create_patient(client)  # exists, but has no session checked in
    answers = []
    for mrn in (patient["mrn"], f"NOBODY-{uuid.uuid4().hex[:8]}"):
        r = await send(integration_client, oru(control(), [obx(1, HR, "70", BPM, ago(1))], mrn=mrn))
        ack = ack_segments(r.text)
        assert ack["MSA"][1] == "AE"
        assert mrn not in r.text
        answers.append((ack["MSA"][3], ack["ERR"][3], ack["ERR"][8]))
    assert answers[0] == answers[1]
    assert "not_routable" in answers[0][0]
    page = await admin_client.get(
        "/v1/integrations/quarantine", params={"channel": "hl7v2", "limit": 20}
    )
    reasons = {q["reason"] for q in page.json()["items"]}
    assert {"no_active_session", "unknown_patient"} <= reasons  # administrators see which
