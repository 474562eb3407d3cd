"""``vigil mllp``: HL7 v2 over MLLP (TCP, optionally TLS) for monitors that push directly.

Each framed message (``<VT> message <FS><CR>``) is processed exactly as
``POST /v1/integrations/hl7v2`` processes it (same service, same de-duplication, same
quarantine), in its own transaction, and answered with its ACK on the same socket, in the
sender's MSH-18 character set.

The listener is an integration client like any other (SPEC §8): it runs as a named client
(``--client``) that an administrator registers and can revoke; its readings are recorded by
that client, and once the client is revoked every new message is answered ``AR`` (checked per
message, in the message's own transaction). It listens on 127.0.0.1 unless told otherwise,
takes connections only from the addresses in ``VIGIL_MLLP_ALLOW`` (others are closed unread
and logged), and speaks TLS with ``--tls-cert``/``--tls-key``, requiring client certificates
signed by ``--tls-client-ca`` when given.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import ssl
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from api.audit import Audit
from api.deps import Actor
from api.integrations.hl7_service import clinic_timezone, process_message
from api.integrations.hl7v2 import (
    ERR_APPLICATION_INTERNAL,
    build_ack,
    declared_charset,
    encode_message,
    peek_header,
)
from api.security.actor import integration_client_active
from api.types import parse_id
from models import IntegrationClient

log = logging.getLogger("vigil.mllp")

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c"
CARRIAGE_RETURN = b"\x0d"
MAX_MESSAGE_BYTES = 1_000_000
TLS_HANDSHAKE_SECONDS = 15.0

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_ALLOW = "127.0.0.1/32"


def frame(message: str | bytes) -> bytes:
    body = message.encode() if isinstance(message, str) else message
    return START_BLOCK + body + END_BLOCK + CARRIAGE_RETURN


def parse_allow(text: str) -> list[Network]:
    """``VIGIL_MLLP_ALLOW``: comma-separated CIDRs (a bare address is one host). ValueError
    names the first entry that is not one."""
    networks: list[Network] = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"VIGIL_MLLP_ALLOW: {entry!r} is not an address or CIDR") from None
    return networks


def peer_allowed(host: str, allow: Sequence[Network]) -> bool:
    """Whether a peer address is inside one of the allowed networks (an IPv4 peer seen on an
    IPv6 socket as ``::ffff:a.b.c.d`` counts as its IPv4 address)."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in allow)


def server_tls_context(cert: Path, key: Path, client_ca: Path | None) -> ssl.SSLContext:
    """TLS 1.2 or later with the server's certificate; with ``client_ca``, every client must
    present a certificate that CA signed."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    if client_ca is not None:
        context.load_verify_locations(cafile=client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


@dataclass(frozen=True)
class ListenerClient:
    """The integration client the listener acts as."""

    id: uuid.UUID
    name: str

    @property
    def actor(self) -> Actor:
        return Actor(id=str(self.id), role="integration", kind="integration", name=self.name)


class ClientNotUsable(Exception):
    """``--client`` names no integration client that can be used; the text says why."""


async def find_listener_client(db: AsyncSession, ref: str) -> ListenerClient:
    """The integration client ``ref`` names (its id, or its name when exactly one client that
    is not revoked has it)."""
    client_id = parse_id(ref)
    stmt = select(IntegrationClient).where(
        IntegrationClient.id == client_id if client_id else IntegrationClient.name == ref
    )
    found = list((await db.scalars(stmt)).all())
    active = [c for c in found if c.revoked_at is None]
    if not found:
        raise ClientNotUsable(
            f"no integration client {ref!r}: an administrator registers one with "
            'POST /v1/integration-clients {"name": ...}'
        )
    if not active:
        raise ClientNotUsable(f"integration client {ref!r} is revoked: register a new one")
    if len(active) > 1:
        ids = ", ".join(str(c.id) for c in active)
        raise ClientNotUsable(f"several integration clients are named {ref!r}; give the id: {ids}")
    return ListenerClient(id=active[0].id, name=active[0].name)


def _request_for(app: FastAPI, peer: tuple[str, int] | None) -> Request:
    """A stand-in request so audit rows carry the peer address like HTTP ones do."""
    scope = {
        "type": "http",
        "app": app,
        "method": "POST",
        "path": "/mllp",
        "headers": [],
        "query_string": b"",
        "client": peer[:2] if peer else None,
        "state": {},
    }
    return Request(scope)


class MllpServer:
    def __init__(
        self,
        app: FastAPI,
        client: ListenerClient,
        *,
        allow: Sequence[Network] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.app = app
        self.client = client
        self.allow = list(allow if allow is not None else parse_allow(DEFAULT_ALLOW))
        self.tls = tls
        self.tz: tzinfo = clinic_timezone(app.state.settings.clinic_tz)
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._handle, host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def serve_forever(self) -> None:
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        host = str(peer[0]) if peer else ""
        try:
            if not peer_allowed(host, self.allow):
                # Closed before anything is read (and before any TLS handshake).
                log.warning("MLLP connection from %s refused: not in VIGIL_MLLP_ALLOW", host)
                return
            if self.tls is not None:
                try:
                    await writer.start_tls(self.tls, ssl_handshake_timeout=TLS_HANDSHAKE_SECONDS)
                except (ssl.SSLError, OSError, TimeoutError) as exc:
                    log.warning("MLLP TLS handshake with %s failed: %s", host, exc)
                    return
            await self._serve_connection(reader, writer, peer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve_connection(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: tuple[str, int] | None,
    ) -> None:
        buffer = b""
        while data := await reader.read(65536):
            buffer += data
            while True:
                start = buffer.find(START_BLOCK)
                end = buffer.find(END_BLOCK, start + 1) if start >= 0 else -1
                if start < 0 or end < 0:
                    break
                message, buffer = buffer[start + 1 : end], buffer[end + 1 :]
                buffer = buffer.removeprefix(CARRIAGE_RETURN)
                ack = await self.process(message, peer)
                writer.write(frame(ack))
                await writer.drain()
            if len(buffer) > MAX_MESSAGE_BYTES:
                log.warning("MLLP frame larger than %d bytes: connection closed", len(buffer))
                break

    async def process(self, message: bytes, peer: tuple[str, int] | None) -> bytes:
        """The ACK (bytes, in the sender's character set) for one message."""
        factory = self.app.state.session_factory
        audit = Audit(actor=self.client.actor, request=_request_for(self.app, peer))
        async with factory() as db:
            try:
                if not await integration_client_active(db, self.client.id):
                    await db.rollback()
                    log.warning(
                        "MLLP message refused: integration client %s is revoked", self.client.name
                    )
                    return _refusal(
                        message,
                        "AR",
                        "this listener's integration client has been revoked: Vigil accepts "
                        "no messages from it; ask the clinic's administrator",
                    )
                result = await process_message(db, audit, message, clinic_tz=self.tz)
                audit.commit_with(db)
                await db.commit()
                return result.ack_bytes
            except Exception:
                await db.rollback()
                log.exception("MLLP message could not be processed")
                return _refusal(
                    message, "AE", "Vigil could not process the message now; send it again"
                )


def _refusal(message: bytes, ack_code: str, text: str) -> bytes:
    control_id, sending_application, sending_facility = peek_header(message)
    charset = declared_charset(message)
    ack = build_ack(
        original_control_id=control_id,
        sending_application=sending_application,
        sending_facility=sending_facility,
        ack_code=ack_code,
        text=text,
        err_code=ERR_APPLICATION_INTERNAL,
        charset=charset.msh18,
    )
    return encode_message(ack, charset)


@dataclass(frozen=True)
class ListenOptions:
    client: str
    host: str
    port: int
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None

    def tls_context(self) -> ssl.SSLContext | None:
        if self.tls_cert is None and self.tls_key is None:
            if self.tls_client_ca is not None:
                raise SystemExit("vigil mllp: --tls-client-ca needs --tls-cert and --tls-key")
            return None
        if self.tls_cert is None or self.tls_key is None:
            raise SystemExit("vigil mllp: TLS needs both --tls-cert and --tls-key")
        try:
            return server_tls_context(self.tls_cert, self.tls_key, self.tls_client_ca)
        except (OSError, ssl.SSLError) as exc:
            raise SystemExit(f"vigil mllp: cannot load the TLS files: {exc}") from None


async def run(options: ListenOptions, create_app: Callable[[], FastAPI]) -> None:
    """Serve MLLP with the app ``create_app`` builds (``vigil mllp`` hands in
    :func:`api.main.create_app`: the entry point knows the app; this module sits below it)."""
    tls = options.tls_context()
    app = create_app()
    try:
        allow = parse_allow(app.state.settings.mllp_allow)
        if not await app.state.readiness.check():
            raise SystemExit(f"vigil mllp: the database is not ready: {app.state.readiness.reason}")
        async with app.state.session_factory() as db:
            try:
                client = await find_listener_client(db, options.client)
            except ClientNotUsable as exc:
                raise SystemExit(f"vigil mllp: {exc}") from None
            finally:
                await db.rollback()
        server = MllpServer(app, client, allow=allow, tls=tls)
        bound = await server.start(options.host, options.port)
        mode = "plain TCP" if tls is None else "TLS"
        if tls is not None and options.tls_client_ca is not None:
            mode += ", client certificates required"
        allowed = ", ".join(str(n) for n in allow) or "nobody"
        log.warning("MLLP listening on %s:%d (%s) as %s", options.host, bound, mode, client.name)
        print(
            f"vigil mllp: listening on {options.host}:{bound} ({mode}) as integration client "
            f"{client.name!r} ({client.id}); connections allowed from {allowed}",
            flush=True,
        )
        try:
            await server.serve_forever()
        finally:
            await server.close()
    finally:
        await app.state.engine.dispose()
