"""Setting up devices, checked-in sessions and HL7 v2 messages for the integration tests."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx

from api.integrations.mllp import ListenerClient
from tests.factories import ago, create_session, transition


def eui64() -> str:
    return "".join(random.choice("0123456789ABCDEF") for _ in range(16))


async def new_device(admin: httpx.AsyncClient, identifier: str | None = None) -> dict[str, Any]:
    r = await admin.post(
        "/v1/devices",
        json={"identifier": identifier or eui64(), "model": "VS-900", "location": "chair-3"},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def listener_client(client_id: str, name: str = "test gateway") -> ListenerClient:
    """The integration client an MLLP listener acts as (``Staff.integration_client_id``)."""
    return ListenerClient(id=uuid.UUID(client_id), name=name)


async def checked_in_session(
    client: httpx.AsyncClient, *, minutes_ago: float = 60, **plan: Any
) -> dict[str, Any]:
    session = await create_session(client, **plan)
    r = await transition(client, session["id"], "checked_in", weight_kg=70, at=ago(minutes_ago))
    assert r.status_code == 200, r.text
    return dict(r.json())


async def bind(nurse: httpx.AsyncClient, session_id: str, device_id: str) -> dict[str, Any]:
    r = await nurse.post(f"/v1/sessions/{session_id}/devices", json={"device_id": device_id})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def bound_session(
    client: httpx.AsyncClient, nurse: httpx.AsyncClient, admin: httpx.AsyncClient
) -> tuple[dict[str, Any], dict[str, Any]]:
    session = await checked_in_session(client)
    device = await new_device(admin)
    await bind(nurse, session["id"], device["id"])
    return session, device


def hl7_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%d%H%M%S") + "+0000"


def obx(
    n: int,
    code: str,
    value: str,
    unit: str,
    at: datetime | None,
    *,
    device: str | None = None,
    value_type: str = "NM",
    status: str = "R",
) -> str:
    ident = f"{device}^^{device}^EUI-64" if device else ""
    time = hl7_time(at) if at else ""
    return f"OBX|{n}|{value_type}|{code}|1.1.1.{n}|{value}|{unit}|||||{status}|||{time}||||{ident}"


HR = "147842^MDC_ECG_HEART_RATE^MDC"
SPO2 = "150456^MDC_PULS_OXIM_SAT_O2^MDC"
SYS = "150301^MDC_PRESS_CUFF_SYS^MDC"
DIA = "150302^MDC_PRESS_CUFF_DIA^MDC"
BPM = "264864^MDC_DIM_BEAT_PER_MIN^MDC"
PCT = "262688^MDC_DIM_PERCENT^MDC"
MMHG = "266016^MDC_DIM_MMHG^MDC"
HEADER = "69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC"


def oru(
    control_id: str,
    rows: list[str],
    *,
    mrn: str | None = None,
    sender: str = "MINDRAY_VS900",
    message_type: str = "ORU^R01^ORU_R01",
    observed: datetime | None = None,
    sep: str = "\r",
) -> str:
    segments = [
        f"MSH|^~\\&|{sender}|CLINIC|||{hl7_time(observed or ago(1))}||{message_type}|"
        f"{control_id}|P|2.6|||AL|NE||UNICODE UTF-8|||"
        "IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO",
    ]
    if mrn is not None:
        segments.append(f"PID|||{mrn}^^^CLINIC^MR||Ruiz^Ana")
    segments.append(
        f"OBR|1|||182777000^monitoring of patient^SNOMED-CT|||{hl7_time(observed or ago(1))}"
    )
    segments += rows
    return sep.join(segments) + sep


def ack_segments(ack: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for segment in ack.strip("\r").split("\r"):
        fields = segment.split("|")
        out[fields[0]] = fields
    return out


async def sse_events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """Parse a text/event-stream into {event, id, data} dicts (comments skipped)."""
    current: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if line == "":
            if current:
                yield current
            current = {}
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "data":
                current["data"] = current.get("data", "") + value
            else:
                current[field] = value
