"""``vigil mllp``: HL7 v2 over MLLP (TCP) for monitors that push directly.

Each framed message (``<VT> message <FS><CR>``) is processed exactly as
``POST /v1/integrations/hl7v2`` processes it (same service, same de-duplication, same
quarantine), in its own transaction, and answered with its ACK on the same socket. The listener
acts as the system actor ``mllp``: MLLP has no credentials, so expose the port only on the
device network.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import tzinfo

from fastapi import FastAPI
from starlette.requests import Request

from api.audit import Audit
from api.deps import Actor
from api.integrations.hl7_service import clinic_timezone, process_message
from api.integrations.hl7v2 import ERR_APPLICATION_INTERNAL, build_ack, peek_header

log = logging.getLogger("vigil.mllp")

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c"
CARRIAGE_RETURN = b"\x0d"
MAX_MESSAGE_BYTES = 1_000_000

MLLP_ACTOR = Actor(id="mllp", role="integration", kind="system", name="MLLP listener")


def frame(message: str | bytes) -> bytes:
    body = message.encode() if isinstance(message, str) else message
    return START_BLOCK + body + END_BLOCK + CARRIAGE_RETURN


def _request_for(app: FastAPI, peer: tuple[str, int] | None) -> Request:
    """A stand-in request so audit rows carry the peer address like HTTP ones do."""
    scope = {
        "type": "http",
        "app": app,
        "method": "POST",
        "path": "/mllp",
        "headers": [],
        "query_string": b"",
        "client": peer,
        "state": {},
    }
    return Request(scope)


class MllpServer:
    def __init__(self, app: FastAPI) -> None:
        self.app = app
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
        buffer = b""
        try:
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
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def process(self, message: bytes, peer: tuple[str, int] | None) -> str:
        factory = self.app.state.session_factory
        audit = Audit(actor=MLLP_ACTOR, request=_request_for(self.app, peer))
        async with factory() as db:
            try:
                result = await process_message(db, audit, message, clinic_tz=self.tz)
                audit.commit_with(db)
                await db.commit()
                return result.ack
            except Exception:
                await db.rollback()
                log.exception("MLLP message could not be processed")
                control_id, sending_application, sending_facility = peek_header(message)
                return build_ack(
                    original_control_id=control_id,
                    sending_application=sending_application,
                    sending_facility=sending_facility,
                    ack_code="AE",
                    text="Vigil could not process the message now; send it again",
                    err_code=ERR_APPLICATION_INTERNAL,
                )


async def run(host: str, port: int) -> None:
    from api.main import create_app

    app = create_app()
    if not await app.state.readiness.check():
        raise SystemExit(f"vigil mllp: the database is not ready: {app.state.readiness.reason}")
    server = MllpServer(app)
    bound = await server.start(host, port)
    log.warning("MLLP listening on %s:%d", host, bound)
    print(f"vigil mllp: listening on {host}:{bound}", flush=True)
    try:
        await server.serve_forever()
    finally:
        await server.close()
        await app.state.engine.dispose()
