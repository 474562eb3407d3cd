"""HL7 v2 rows: which device a row belongs to, what identifies a reading, which rows are readings.

Over HTTP and over MLLP (same service, same answers).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.integrations.mllp import MllpServer, frame
from tests.factories import (
    ago,
    create_patient,
    create_plan,
    create_session,
    now,
    prepare_dosing,
    transition,
)
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
    bound_session,
    eui64,
    hl7_time,
    obx,
    oru,
)

Send = Callable[[str], Awaitable[str]]


def control() -> str:
    return f"MSG{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["http", "mllp"])
async def send(
    request: pytest.FixtureRequest, app: FastAPI, integration_client: httpx.AsyncClient
) -> Any:
    """Send one ER7 message and return the ACK text, over HTTP or over an MLLP socket."""
    if request.param == "http":

        async def over_http(message: str) -> str:
            r = await integration_client.post(
                "/v1/integrations/hl7v2",
                content=message,
                headers={"content-type": "application/hl7-v2"},
            )
            assert r.status_code == 200, r.text
            return r.text

        yield over_http
        return

    server = MllpServer(app)
    port = await server.start("127.0.0.1", 0)
    serving = asyncio.create_task(server.serve_forever())
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def over_mllp(message: str) -> str:
        writer.write(frame(message))
        await writer.drain()
        raw = await asyncio.wait_for(reader.readuntil(b"\x1c\r"), 10)
        return raw[1:-2].decode()

    try:
        yield over_mllp
    finally:
        writer.close()
        serving.cancel()
        await server.close()


async def readings(client: httpx.AsyncClient, session_id: str) -> list[tuple[str, float]]:
    items = (await client.get(f"/v1/sessions/{session_id}/vitals")).json()["items"]
    return sorted((o["code"], o["value"]) for o in items)


async def quarantined(admin: httpx.AsyncClient, control_id: str) -> list[dict[str, Any]]:
    items = (
        await admin.get("/v1/integrations/quarantine", params={"channel": "hl7v2", "limit": 500})
    ).json()["items"]
    return sorted(
        (q for q in items if q["message_control_id"] == control_id),
        key=lambda q: q["item_index"] or 0,
    )


# --------------------------------------------------------------------------------------------
# 1. The device of each OBX: its own OBX-18, else its OBR-3, else MSH-3 (SPEC §8)
# --------------------------------------------------------------------------------------------


async def test_a_row_without_obx18_goes_to_its_obr3_device_not_the_row_above(
    send: Send,
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
) -> None:
    session_a, device_a = await bound_session(client, nurse_client, admin_client)
    session_b, device_b = await bound_session(client, nurse_client, admin_client)
    a, b = device_a["identifier"], device_b["identifier"]
    at = ago(2)
    message = "\r".join(
        [
            f"MSH|^~\\&|GATEWAY|CLINIC|||{hl7_time(at)}||ORU^R01^ORU_R01|{control()}|P|2.6",
            f"OBR|1||{b}^^^EUI-64|182777000^monitoring of patient^SNOMED-CT|||{hl7_time(at)}",
            obx(1, HR, "88", BPM, at, device=a),
            obx(2, SPO2, "91", PCT, at),  # no OBX-18: OBR-3 names device B
        ]
    )
    assert ack_segments(await send(message))["MSA"][1] == "AA"
    assert await readings(client, session_a["id"]) == [("heart_rate", 88)]
    assert await readings(client, session_b["id"]) == [("spo2", 91)]


async def test_a_later_group_without_a_device_uses_msh3_not_an_earlier_groups_obx18(
    send: Send,
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
) -> None:
    session_a, device_a = await bound_session(client, nurse_client, admin_client)
    session_b, device_b = await bound_session(client, nurse_client, admin_client)
    a, b = device_a["identifier"], device_b["identifier"]
    at = ago(2)
    message = "\r".join(
        [
            f"MSH|^~\\&|MINDRAY^{b}^EUI-64|CLINIC|||{hl7_time(at)}||ORU^R01^ORU_R01|"
            f"{control()}|P|2.6",
            f"OBR|1|||182777000^monitoring of patient^SNOMED-CT|||{hl7_time(at)}",
            obx(1, HR, "99", BPM, at, device=a),
            f"OBR|2|||182777000^monitoring of patient^SNOMED-CT|||{hl7_time(at)}",
            obx(2, SPO2, "90", PCT, at),  # no OBX-18, no OBR-3: MSH-3 names device B
        ]
    )
    assert ack_segments(await send(message))["MSA"][1] == "AA"
    assert await readings(client, session_a["id"]) == [("heart_rate", 99)]
    assert await readings(client, session_b["id"]) == [("spo2", 90)]


async def test_a_header_rows_obx18_is_not_inherited_and_the_row_is_quarantined(
    send: Send,
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
) -> None:
    """An MDS header row naming a device, metric rows below it without OBX-18, no OBR-3, no
    EUI-64 in MSH-3 and no PID: the metric row has no device and nothing to route by."""
    session, device = await bound_session(client, nurse_client, admin_client)
    control_id = control()
    message = oru(
        control_id,
        [
            obx(1, HEADER, "", "", None, device=device["identifier"], status="X"),
            obx(2, HR, "72", BPM, ago(2)),
        ],
    )
    ack = ack_segments(await send(message))
    assert ack["MSA"][1] == "AE"
    assert "OBX 2 unrouted" in ack["ERR"][8]
    assert await readings(client, session["id"]) == []
    kept = await quarantined(admin_client, control_id)
    assert [(q["item_index"], q["reason"]) for q in kept] == [(2, "unrouted")]


# --------------------------------------------------------------------------------------------
# 2. A reading is its device + OBX-3 + time: a monitor resending its last NIBP stores it once
# --------------------------------------------------------------------------------------------


async def test_the_last_nibp_resent_in_later_messages_is_stored_and_alerted_once(
    send: Send,
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
) -> None:
    session, device = await bound_session(client, nurse_client, admin_client)
    await prepare_dosing(client, session["id"], ago(20))
    r = await transition(client, session["id"], "dosing", at=ago(20), override_reason="test")
    assert r.status_code == 200, r.text
    eui = device["identifier"]
    cuff_at = ago(10)
    acks = []
    for i in range(3):  # each message: a new heart rate and the same (high) cuff pressure
        message = oru(
            control(),
            [
                obx(1, HR, str(80 + i), BPM, ago(3 - i), device=eui),
                obx(2, SYS, "195", MMHG, cuff_at, device=eui),
                obx(3, DIA, "100", MMHG, cuff_at, device=eui),
            ],
        )
        acks.append(ack_segments(await send(message))["MSA"])
    assert [a[1] for a in acks] == ["AA", "AA", "AA"]
    assert "stored 3, duplicate 0" in acks[0][3]
    assert "stored 1, duplicate 2" in acks[1][3]
    assert "stored 1, duplicate 2" in acks[2][3]
    assert await readings(client, session["id"]) == [
        ("diastolic_bp", 100),
        ("heart_rate", 80),
        ("heart_rate", 81),
        ("heart_rate", 82),
        ("systolic_bp", 195),
    ]
    alerts = (await client.get(f"/v1/sessions/{session['id']}/alerts")).json()
    items = alerts["items"] if isinstance(alerts, dict) else alerts
    assert len(items) == 1


async def test_the_same_code_and_time_from_another_device_is_another_reading(
    send: Send,
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
) -> None:
    session_a, device_a = await bound_session(client, nurse_client, admin_client)
    session_b, device_b = await bound_session(client, nurse_client, admin_client)
    at = ago(2)
    for device, value in ((device_a, "71"), (device_b, "72")):
        message = oru(control(), [obx(1, HR, value, BPM, at, device=device["identifier"])])
        assert ack_segments(await send(message))["MSA"][1] == "AA"
    assert await readings(client, session_a["id"]) == [("heart_rate", 71)]
    assert await readings(client, session_b["id"]) == [("heart_rate", 72)]


async def test_readings_without_a_device_are_told_apart_by_patient(
    send: Send, client: httpx.AsyncClient
) -> None:
    """Routed by PID-3: two patients' readings of one code at one time are two readings."""
    at = ago(2)
    sessions = []
    for value in ("95", "88"):
        patient = await create_patient(client)
        plan = await create_plan(client, patient["id"])
        session = await create_session(client, plan=plan)
        r = await transition(client, session["id"], "checked_in", weight_kg=70, at=ago(30))
        assert r.status_code == 200, r.text
        message = oru(control(), [obx(1, SPO2, value, PCT, at)], mrn=patient["mrn"])
        assert ack_segments(await send(message))["MSA"][1] == "AA"
        sessions.append(session)
    assert await readings(client, sessions[0]["id"]) == [("spo2", 95)]
    assert await readings(client, sessions[1]["id"]) == [("spo2", 88)]


# --------------------------------------------------------------------------------------------
# 3. SPEC §1: a time more than 2 minutes in the future is refused (the row, AE, quarantined)
# --------------------------------------------------------------------------------------------


async def test_a_reading_in_the_future_is_rejected_and_quarantined(
    send: Send,
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
) -> None:
    session, device = await bound_session(client, nurse_client, admin_client)
    eui = device["identifier"]
    control_id = control()
    message = oru(
        control_id,
        [
            obx(1, HR, "72", BPM, now() + timedelta(hours=3), device=eui),  # OBX-14
            obx(2, SPO2, "97", PCT, None, device=eui),  # OBR-7, below: also in the future
            obx(3, HR, "70", BPM, now() + timedelta(seconds=60), device=eui),  # within 2 min
        ],
        observed=now() + timedelta(minutes=10),
    )
    ack = ack_segments(await send(message))
    assert ack["MSA"][1] == "AE"
    assert ack["MSA"][2] == control_id
    assert "OBX 1 invalid_time" in ack["ERR"][8]
    assert "OBX 2 invalid_time" in ack["ERR"][8]
    assert "in the future" in ack["ERR"][8]
    assert ack["ERR"][3].startswith("102^")
    assert await readings(client, session["id"]) == [("heart_rate", 70)]
    kept = await quarantined(admin_client, control_id)
    assert [(q["item_index"], q["reason"]) for q in kept] == [
        (1, "invalid_time"),
        (2, "invalid_time"),
    ]
    assert kept[0]["raw"]["obx"].startswith("OBX|1|NM|147842")


# --------------------------------------------------------------------------------------------
# 4. Times at the calendar's limits are a rejected row, never a 500 or an ACK without MSA-2
# --------------------------------------------------------------------------------------------


async def test_times_beyond_the_calendar_once_in_utc_are_rejected_rows(
    send: Send,
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
) -> None:
    session, device = await bound_session(client, nurse_client, admin_client)
    eui = device["identifier"]
    control_id = control()
    rows = [
        f"OBX|{n}|NM|{HR}|1.1.1.{n}|72|{BPM}|||||R|||{time}||||{eui}^^{eui}^EUI-64"
        for n, time in ((1, "99991231235959-1400"), (2, "00010101000000+1400"))
    ]
    ack = ack_segments(await send(oru(control_id, rows)))
    assert ack["MSA"][1] == "AE"
    assert ack["MSA"][2] == control_id
    assert "OBX 1 invalid_time" in ack["ERR"][8]
    assert "OBX 2 invalid_time" in ack["ERR"][8]
    assert await readings(client, session["id"]) == []
    kept = await quarantined(admin_client, control_id)
    assert [(q["item_index"], q["reason"]) for q in kept] == [
        (1, "invalid_time"),
        (2, "invalid_time"),
    ]


async def test_an_mllp_message_that_fails_unexpectedly_is_answered_with_its_msh10(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr("api.integrations.mllp.process_message", broken)
    control_id = control()
    server = MllpServer(app)
    ack = await server.process(oru(control_id, [obx(1, HR, "72", BPM, ago(1))]).encode(), None)
    fields = ack_segments(ack)
    assert fields["MSA"][1:3] == ["AE", control_id]
    assert fields["MSH"][4] == "MINDRAY_VS900"  # the original sender, as MSH-5
    assert fields["ERR"][3].startswith("207^")


# --------------------------------------------------------------------------------------------
# 6. PID-3: the repetition typed MR is the patient's MRN, whatever its position
# --------------------------------------------------------------------------------------------


async def test_pid3_routes_by_the_mr_repetition(send: Send, client: httpx.AsyncClient) -> None:
    patient = await create_patient(client)
    plan = await create_plan(client, patient["id"])
    session = await create_session(client, plan=plan)
    r = await transition(client, session["id"], "checked_in", weight_kg=70, at=ago(30))
    assert r.status_code == 200, r.text
    # oru() appends ^^^CLINIC^MR to what it is given: the MRN is the second repetition.
    message = oru(
        control(), [obx(1, SPO2, "96", PCT, ago(2))], mrn=f"123-45-6789^^^SSA^SS~{patient['mrn']}"
    )
    assert ack_segments(await send(message))["MSA"][1] == "AA"
    assert await readings(client, session["id"]) == [("spo2", 96)]


# --------------------------------------------------------------------------------------------
# 7. Quarantined rows carry the device EUI-64 in the one spelling the filter looks up
# --------------------------------------------------------------------------------------------


async def test_a_quarantined_rows_device_is_stored_normalized(
    send: Send, admin_client: httpx.AsyncClient
) -> None:
    eui = eui64()
    sent = "-".join(eui[i : i + 2] for i in range(0, 16, 2)).lower()  # e.g. 0a-1b-...
    control_id = control()
    ack = ack_segments(await send(oru(control_id, [obx(1, HR, "72", BPM, ago(2), device=sent)])))
    assert "OBX 1 unknown_device" in ack["ERR"][8]
    [row] = await quarantined(admin_client, control_id)
    assert row["device_identifier"] == eui
    for spelling in (sent, eui, eui.lower()):
        found = (
            await admin_client.get(
                "/v1/integrations/quarantine", params={"device": spelling, "limit": 500}
            )
        ).json()["items"]
        assert [q["message_control_id"] for q in found] == [control_id]


# --------------------------------------------------------------------------------------------
# 8. OBX-11: only F, R, C and P values are readings; W (wrong patient), D, X... are refused
# --------------------------------------------------------------------------------------------


async def test_rows_whose_result_status_is_not_a_reading_are_rejected_and_quarantined(
    send: Send,
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
) -> None:
    session, device = await bound_session(client, nurse_client, admin_client)
    eui = device["identifier"]
    control_id = control()
    rows = [
        obx(1, SPO2, "0", PCT, ago(2), device=eui, status="X"),  # a value, yet "no result"
        obx(2, HR, "250", BPM, ago(2), device=eui, status="W"),  # wrong (e.g. wrong patient)
        obx(3, HR, "251", BPM, ago(3), device=eui, status="D"),  # deleted
        obx(4, HR, "252", BPM, ago(4), device=eui, status=""),  # OBX-11 is required
        obx(5, SYS, "", MMHG, ago(5), device=eui, status="X"),  # no value, no result: skipped
        obx(6, HR, "61", BPM, ago(6), device=eui, status="F"),
        obx(7, HR, "62", BPM, ago(7), device=eui, status="R"),
        obx(8, HR, "63", BPM, ago(8), device=eui, status="C"),
        obx(9, HR, "64", BPM, ago(9), device=eui, status="P"),
    ]
    ack = ack_segments(await send(oru(control_id, rows)))
    assert ack["MSA"][1] == "AE"
    assert ack["MSA"][2] == control_id
    for text in ("OBX 1 result_status", "OBX 2 result_status", "OBX 3 result_status"):
        assert text in ack["ERR"][8]
    assert "OBX 4 missing_status" in ack["ERR"][8]
    assert "wrong" in ack["ERR"][8]
    assert "stored 4" in ack["MSA"][3]
    assert "no_result 1" in ack["MSA"][3]
    assert await readings(client, session["id"]) == [("heart_rate", v) for v in (61, 62, 63, 64)]
    kept = await quarantined(admin_client, control_id)
    assert [(q["item_index"], q["reason"]) for q in kept] == [
        (1, "result_status"),
        (2, "result_status"),
        (3, "result_status"),
        (4, "missing_status"),
    ]
