"""``vigil mllp`` as an integration client: named and revocable, an address allow-list, TLS with
client certificates, ACKs in the sender's character set. Real sockets on 127.0.0.1, a real
third-party MLLP client (python-hl7's asyncio streams) where it fits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import hl7
import httpx
import pytest
import trustme
from fastapi import FastAPI
from hl7.mllp import open_hl7_connection

from api.integrations.mllp import (
    ClientNotUsable,
    ListenerClient,
    ListenOptions,
    MllpServer,
    find_listener_client,
    frame,
    parse_allow,
    peer_allowed,
    server_tls_context,
)
from tests.conftest import Staff
from tests.factories import ago
from tests.integrations.helpers import (
    BPM,
    HR,
    bound_session,
    listener_client,
    obx,
    oru,
)

DEADLINE = 10.0


def control() -> str:
    return f"MLLP{uuid.uuid4().hex[:12]}"


@contextlib.asynccontextmanager
async def listening(
    app: FastAPI,
    client: ListenerClient,
    *,
    allow: str = "127.0.0.1/32",
    tls: ssl.SSLContext | None = None,
) -> AsyncIterator[int]:
    server = MllpServer(app, client, allow=parse_allow(allow), tls=tls)
    port = await server.start("127.0.0.1", 0)
    serving = asyncio.create_task(server.serve_forever())
    try:
        yield port
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        await server.close()


async def exchange(reader: Any, writer: Any, message: str) -> Any:
    """python-hl7: send one message, read its ACK (an ``hl7.Message``)."""
    writer.writemessage(message)
    await writer.drain()
    return await asyncio.wait_for(reader.readmessage(), DEADLINE)


async def readings(client: httpx.AsyncClient, session_id: str) -> list[dict[str, Any]]:
    return list((await client.get(f"/v1/sessions/{session_id}/vitals")).json()["items"])


async def new_client(admin: httpx.AsyncClient) -> tuple[ListenerClient, str]:
    name = f"ward-monitors-{uuid.uuid4().hex[:6]}"
    r = await admin.post("/v1/integration-clients", json={"name": name})
    assert r.status_code == 201, r.text
    return ListenerClient(id=uuid.UUID(r.json()["id"]), name=name), r.json()["id"]


# --------------------------------------------------------------------------------------------
# The listener's own integration client
# --------------------------------------------------------------------------------------------


async def test_readings_over_mllp_are_recorded_by_the_listeners_client(
    app: FastAPI,
    staff: Staff,
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
) -> None:
    session, device = await bound_session(client, nurse_client, admin_client)
    async with listening(app, listener_client(staff.integration_client_id)) as port:
        reader, writer = await open_hl7_connection("127.0.0.1", port)
        try:
            message = oru(control(), [obx(1, HR, "67", BPM, ago(1), device=device["identifier"])])
            ack = await exchange(reader, writer, message)
        finally:
            writer.close()
    assert str(ack.segment("MSA")[1]) == "AA"
    (stored,) = await readings(client, session["id"])
    assert stored["value"] == 67
    assert stored["source"] == f"integration:{staff.integration_client_id}"
    assert stored["recorded_by"] == staff.integration_client_id


async def test_a_revoked_clients_listener_refuses_new_messages(
    app: FastAPI,
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
) -> None:
    session, device = await bound_session(client, nurse_client, admin_client)
    listener, client_id = await new_client(admin_client)
    async with listening(app, listener) as port:
        reader, writer = await open_hl7_connection("127.0.0.1", port)
        try:
            first = await exchange(
                reader,
                writer,
                oru(control(), [obx(1, HR, "70", BPM, ago(2), device=device["identifier"])]),
            )
            revoked = await admin_client.post(f"/v1/integration-clients/{client_id}/revoke")
            assert revoked.status_code == 200
            # the same connection, the next message: checked per message
            second = await exchange(
                reader,
                writer,
                oru(control(), [obx(1, HR, "71", BPM, ago(1), device=device["identifier"])]),
            )
        finally:
            writer.close()
    assert str(first.segment("MSA")[1]) == "AA"
    assert str(second.segment("MSA")[1]) == "AR"
    assert "revoked" in str(second.segment("ERR")[8])
    assert [o["value"] for o in await readings(client, session["id"])] == [70]


async def test_the_client_is_found_by_name_or_id_and_must_be_usable(
    app: FastAPI, admin_client: httpx.AsyncClient
) -> None:
    listener, client_id = await new_client(admin_client)
    async with app.state.session_factory() as db:
        assert await find_listener_client(db, listener.name) == listener
        assert await find_listener_client(db, client_id) == listener
        with pytest.raises(ClientNotUsable, match="no integration client"):
            await find_listener_client(db, "nobody-registered-this")
    twin = await admin_client.post("/v1/integration-clients", json={"name": listener.name})
    assert twin.status_code == 201
    async with app.state.session_factory() as db:
        with pytest.raises(ClientNotUsable, match="give the id"):
            await find_listener_client(db, listener.name)
    for cid in (client_id, twin.json()["id"]):
        assert (await admin_client.post(f"/v1/integration-clients/{cid}/revoke")).is_success
    async with app.state.session_factory() as db:
        with pytest.raises(ClientNotUsable, match="revoked"):
            await find_listener_client(db, listener.name)


# --------------------------------------------------------------------------------------------
# Who may connect
# --------------------------------------------------------------------------------------------


async def test_an_address_outside_the_allow_list_is_closed_unread_and_logged(
    app: FastAPI,
    staff: Staff,
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    session, device = await bound_session(client, nurse_client, admin_client)
    message = oru(control(), [obx(1, HR, "72", BPM, ago(1), device=device["identifier"])])
    caplog.set_level(logging.WARNING, logger="vigil.mllp")
    listener = listener_client(staff.integration_client_id)
    async with listening(app, listener, allow="10.0.0.0/8, 192.168.0.0/16") as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(frame(message))
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), DEADLINE)  # until the server closes
        except ConnectionResetError:
            answer = b""
        finally:
            writer.close()
    assert answer == b""  # no ACK: nothing was read
    assert await readings(client, session["id"]) == []
    assert any(
        "127.0.0.1" in r.getMessage() and "refused" in r.getMessage() for r in caplog.records
    )


def test_the_allow_list_is_cidrs() -> None:
    allow = parse_allow("127.0.0.1/32, 10.20.0.0/16,::1")
    assert peer_allowed("127.0.0.1", allow)
    assert peer_allowed("10.20.3.4", allow)
    assert peer_allowed("::1", allow)
    assert peer_allowed("::ffff:10.20.3.4", allow)  # an IPv4 peer on an IPv6 socket
    assert not peer_allowed("127.0.0.2", allow)
    assert not peer_allowed("10.21.0.1", allow)
    assert not peer_allowed("not an address", allow)
    assert parse_allow("") == []
    with pytest.raises(ValueError, match=r"10\.0\.0\.300"):
        parse_allow("127.0.0.1/32,10.0.0.300")


def test_the_default_allow_list_is_this_host_and_a_bad_one_fails_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from api.config import Settings

    assert Settings().mllp_allow == "127.0.0.1/32"
    monkeypatch.setenv("VIGIL_MLLP_ALLOW", "10.0.0.0/8,nonsense")
    with pytest.raises(ValueError, match="nonsense"):
        Settings()


# --------------------------------------------------------------------------------------------
# TLS
# --------------------------------------------------------------------------------------------


class Pki:
    """A server CA and certificate for 127.0.0.1, and a separate CA for client certificates,
    written to files as an operator would have them (PEM)."""

    def __init__(self, directory: Path) -> None:
        self.ca = trustme.CA()
        self.client_ca = trustme.CA()
        server = self.ca.issue_cert("127.0.0.1", "localhost")
        self.cert, self.key = directory / "server.pem", directory / "server.key"
        self.client_ca_file = directory / "client-ca.pem"
        server.cert_chain_pems[0].write_to_path(str(self.cert))
        server.private_key_pem.write_to_path(str(self.key))
        self.client_ca.cert_pem.write_to_path(str(self.client_ca_file))
        self.monitor = self.client_ca.issue_cert("monitor-chair-3")

    def client_context(self, *, with_certificate: bool) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        self.ca.configure_trust(context)
        if with_certificate:
            self.monitor.configure_cert(context)
        return context


async def test_mllp_over_tls_with_a_client_certificate(
    app: FastAPI,
    staff: Staff,
    client: httpx.AsyncClient,
    nurse_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    session, device = await bound_session(client, nurse_client, admin_client)
    pki = Pki(tmp_path)
    tls = ListenOptions(
        client="x",
        host="127.0.0.1",
        port=0,
        tls_cert=pki.cert,
        tls_key=pki.key,
        tls_client_ca=pki.client_ca_file,
    ).tls_context()
    assert tls is not None
    listener = listener_client(staff.integration_client_id)

    async def attempt(value: str, context: ssl.SSLContext | None) -> Any:
        message = oru(control(), [obx(1, HR, value, BPM, ago(1), device=device["identifier"])])
        kwargs: dict[str, Any] = {"ssl": context, "server_hostname": "127.0.0.1"} if context else {}
        reader, writer = await open_hl7_connection("127.0.0.1", port, **kwargs)
        try:
            return await exchange(reader, writer, message)
        finally:
            writer.close()

    async with listening(app, listener, tls=tls) as port:
        ack = await attempt("64", pki.client_context(with_certificate=True))
        assert str(ack.segment("MSA")[1]) == "AA"
        refused = (ssl.SSLError, ConnectionError, asyncio.IncompleteReadError, EOFError)
        with pytest.raises(refused):  # no client certificate: the handshake fails
            await attempt("65", pki.client_context(with_certificate=False))
        with pytest.raises(refused):  # plain TCP to a TLS listener: never an ACK
            await attempt("66", None)
    assert [o["value"] for o in await readings(client, session["id"])] == [64]


async def test_tls_without_client_certificates_when_no_client_ca(tmp_path: Path) -> None:
    pki = Pki(tmp_path)
    context = server_tls_context(pki.cert, pki.key, None)
    assert context.verify_mode == ssl.CERT_NONE
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    required = server_tls_context(pki.cert, pki.key, pki.client_ca_file)
    assert required.verify_mode == ssl.CERT_REQUIRED


def test_tls_options_must_come_together(tmp_path: Path) -> None:
    base = {"client": "x", "host": "127.0.0.1", "port": 0}
    assert ListenOptions(**base).tls_context() is None  # type: ignore[arg-type]
    with pytest.raises(SystemExit, match="both --tls-cert and --tls-key"):
        ListenOptions(**base, tls_cert=tmp_path / "c.pem").tls_context()  # type: ignore[arg-type]
    with pytest.raises(SystemExit, match="--tls-client-ca needs"):
        ListenOptions(**base, tls_client_ca=tmp_path / "ca.pem").tls_context()  # type: ignore[arg-type]
    with pytest.raises(SystemExit, match="cannot load"):
        ListenOptions(  # type: ignore[arg-type]
            **base, tls_cert=tmp_path / "missing.pem", tls_key=tmp_path / "missing.key"
        ).tls_context()


# --------------------------------------------------------------------------------------------
# Character sets
# --------------------------------------------------------------------------------------------


async def test_a_latin1_sender_gets_its_ack_in_latin1(app: FastAPI, staff: Staff) -> None:
    message = oru(control(), [obx(1, HR, "70", BPM, ago(1))]).replace("|CLINIC|", "|Klinik Müller|")
    message = message.replace("UNICODE UTF-8", "8859/1")
    async with listening(app, listener_client(staff.integration_client_id)) as port:
        reader, writer = await open_hl7_connection("127.0.0.1", port, encoding="iso-8859-1")
        try:
            ack = await exchange(reader, writer, message)
        finally:
            writer.close()
    msh = ack.segment("MSH")
    assert str(msh[6]) == "Klinik Müller"  # the sender's MSH-4, as MSH-6, in latin-1 bytes
    assert str(msh[18]) == "8859/1"


async def test_an_ascii_sender_gets_ascii_with_hl7_escapes(app: FastAPI, staff: Staff) -> None:
    message = oru(control(), [obx(1, HR, "70", BPM, ago(1))]).replace("|CLINIC|", "|Klinik Müller|")
    message = message.replace("UNICODE UTF-8", "")  # no MSH-18: ASCII
    async with listening(app, listener_client(staff.integration_client_id)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(frame(message.encode()))
            await writer.drain()
            raw = await asyncio.wait_for(reader.readuntil(b"\x1c\r"), DEADLINE)
        finally:
            writer.close()
    assert all(byte < 0x80 for byte in raw)
    assert b"Klinik M\\X00FC\\ller" in raw
    assert str(hl7.parse(raw[1:-2].decode("ascii")).segment("MSA")[1]) == "AE"  # unrouted
