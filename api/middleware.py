"""Pure ASGI middleware: request ids, trusted proxies, security headers, body size and
content-type checks, readiness guard.

Written as plain ASGI (not ``BaseHTTPMiddleware``) so the ingest hot path pays almost nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import time
import uuid
from collections.abc import Sequence
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import PROBLEM_JSON, TYPE_BASE
from api.proxies import Network, forwarded_client, is_trusted

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
access_log = logging.getLogger("vigil.access")

# Content types accepted per path prefix for requests that carry a body; first match wins.
_BODY_TYPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("/v1/auth/token", ("application/x-www-form-urlencoded", "multipart/form-data")),
    (
        "/v1/integrations/hl7v2",
        ("application/hl7-v2", "x-application/hl7-v2+er7", "text/plain", "application/edi-hl7"),
    ),
    ("/fhir/R4/Observation/_search", ("application/x-www-form-urlencoded",)),
    ("/fhir/", ("application/fhir+json", "application/json")),
    ("/v1/", ("application/json",)),
)


async def send_problem(
    send: Send,
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    slug = "validation" if status == 422 else title.lower().replace(" ", "-")
    problem: dict[str, Any] = {
        "type": TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        problem["errors"] = errors
    body = orjson.dumps(problem)
    raw_headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        *[(k.encode(), v.encode()) for k, v in (headers or {}).items()],
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


class _BodyRefused(Exception):
    """Raised from ``receive`` to stop reading a body that will be refused."""


# A client's X-Request-ID is kept only in this shape (SPEC §9); anything else gets a new one,
# so what reaches logs and audit rows is never the client's free text.
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Patient data must not sit in caches, and nothing may be sniffed into another type (SPEC §1).
_PRIVATE_PREFIXES = ("/v1/", "/fhir/")
_NO_STORE = (b"cache-control", b"no-store")
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_CLOSE = (b"connection", b"close")
_REPLACED = frozenset({b"x-content-type-options", b"server"})
_REPLACED_PRIVATE = _REPLACED | {b"cache-control"}


def secure_headers(
    path: str, status: int, headers: Sequence[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """A response's headers with SPEC §1's security headers: ``no-store`` and ``nosniff`` on
    the API, no ``Server`` banner, and ``Connection: close`` after a 500 (whatever state the
    failure left behind, the client does not send another request on that connection)."""
    private = path.startswith(_PRIVATE_PREFIXES)
    replaced = _REPLACED_PRIVATE if private else _REPLACED
    out = [(k, v) for k, v in headers if k.lower() not in replaced]
    if private:
        out.append(_NO_STORE)
    out.append(_NOSNIFF)
    if status == 500 and _CLOSE not in out:
        out.append(_CLOSE)
    return out


class RequestContextMiddleware:
    """The client's address (behind a trusted proxy), the request id in a context variable (for
    logs) and the ``X-Request-ID`` response header, the security headers, the access log."""

    def __init__(self, app: ASGIApp, *, trusted_proxies: Sequence[Network] = ()) -> None:
        self.app = app
        self.trusted_proxies = tuple(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self._forwarded(scope)
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status_holder: dict[str, int] = {}
        path: str = scope["path"]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                status_holder["status"] = status
                headers = secure_headers(path, status, message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            # Path only: query strings can carry names (patient search) and never reach logs.
            access_log.info(
                "%s %s %s %.1fms",
                scope["method"],
                scope["path"],
                status_holder.get("status", 0),
                (time.perf_counter() - started) * 1000,
            )
            request_id_var.reset(token)

    def _forwarded(self, scope: Scope) -> None:
        """Believe ``X-Forwarded-For``/``-Proto`` from a trusted proxy only."""
        if not self.trusted_proxies:
            return
        client = scope.get("client")
        peer = client[0] if client else None
        if not is_trusted(peer, self.trusted_proxies):
            return
        assert peer is not None
        forwarded_for = _header(scope, b"x-forwarded-for")
        if forwarded_for:
            scope["client"] = (forwarded_client(peer, forwarded_for, self.trusted_proxies), 0)
        proto = (_header(scope, b"x-forwarded-proto") or "").split(",")[-1].strip().lower()
        if proto in ("http", "https"):
            scope["scheme"] = proto


class RequestGuardMiddleware:
    """413 for bodies over the limit, 415 for the wrong content type, 503 when not migrated."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(("/v1/", "/fhir/")):
            readiness = scope["app"].state.readiness
            if not readiness.ready and not await readiness.recheck():
                await send_problem(
                    send,
                    503,
                    "Service unavailable",
                    f"The database is not ready: {readiness.reason}",
                    headers={"retry-after": "5"},
                )
                return
        if lacks_credentials(scope):
            await self.app(scope, _without_body(receive), send)
            return
        length = _header(scope, b"content-length")
        has_body = (length is not None and length != "0") or _header(
            scope, b"transfer-encoding"
        ) is not None
        if scope["method"] in ("POST", "PUT", "PATCH") and has_body:
            if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
                await send_problem(
                    send,
                    413,
                    "Payload too large",
                    f"The request body is larger than {self.max_body_bytes} bytes.",
                )
                return
            allowed = _allowed_types(path)
            content_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
            if allowed and content_type not in allowed:
                await send_problem(
                    send,
                    415,
                    "Unsupported media type",
                    f"Send the body as {' or '.join(allowed)} (got {content_type or 'none'}).",
                )
                return
        if b"%00" in scope.get("query_string", b""):
            await send_problem(
                send,
                422,
                "Invalid request",
                "The query string contains a NUL character (%00), which no field accepts.",
                errors=[{"loc": ["query"], "msg": "NUL characters are not accepted"}],
            )
            return
        received = 0
        check_nul = scope["method"] in ("POST", "PUT", "PATCH") and path.startswith(
            ("/v1/", "/fhir/")
        )
        form_body = (
            (_header(scope, b"content-type") or "")
            .lower()
            .startswith("application/x-www-form-urlencoded")
        )
        tail = b""
        refused: tuple[int, str, str, list[dict[str, Any]] | None] | None = None
        response_started = False

        async def guarded_receive() -> Message:
            nonlocal received, tail, refused
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > self.max_body_bytes:
                    refused = (
                        413,
                        "Payload too large",
                        f"The request body is larger than {self.max_body_bytes} bytes.",
                        None,
                    )
                    raise _BodyRefused
                if check_nul:
                    window = tail + chunk
                    if _has_nul(window, form=form_body):
                        refused = (
                            422,
                            "Invalid request",
                            "The body contains a NUL character (\\u0000), which no field accepts.",
                            [{"loc": ["body"], "msg": "NUL characters are not accepted"}],
                        )
                        raise _BodyRefused
                    tail = window[-64:]
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if refused is not None:
                return  # the app's answer to a refused body is replaced by ours below
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        with contextlib.suppress(_BodyRefused):
            await self.app(scope, guarded_receive, guarded_send)
        if refused is not None and not response_started:
            status, title, detail, errors = refused
            await send_problem(send, status, title, detail, errors=errors)


# Paths under /v1 and /fhir that answer without credentials (SPEC §9).
PUBLIC_PATHS = frozenset({"/v1/auth/token", "/fhir/R4/metadata"})


def lacks_credentials(scope: Scope) -> bool:
    """A request to a protected path with no credentials at all. It is answered 401 before its
    body is looked at (SPEC §1): its content type and NULs are not judged, and the route sees
    an empty body (the client's is never read), so ``api.security.authorize`` refuses it (and
    audits the attempt, with the record its path names) before anything parses a body."""
    path: str = scope["path"]
    if not path.startswith(_PRIVATE_PREFIXES) or path in PUBLIC_PATHS:
        return False
    if _header(scope, b"authorization"):
        return False
    return b"ticket=" not in scope.get("query_string", b"")  # a live stream's ticket (§13)


def _without_body(receive: Receive) -> Receive:
    """``receive`` as if the request had no body (later calls: the real one, for disconnect)."""
    given = False

    async def empty() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return await receive()

    return empty


def _has_nul(data: bytes, *, form: bool) -> bool:
    """Does a body carry a NUL character: a raw 0x00 byte, ``%00`` in a form, or in JSON an
    escaped ``\\u0000`` (after an even run of backslashes, so an escaped backslash followed by
    the text ``u0000`` is not one)?

    PostgreSQL text cannot hold NUL, so such values are refused for every field up front (and
    on SQLite too, so both backends accept the same requests)."""
    if b"\x00" in data or (form and b"%00" in data):
        return True
    start = data.find(b"\\u0000")
    while start != -1:
        run = 0
        while start - run - 1 >= 0 and data[start - run - 1] == 0x5C:
            run += 1
        if run % 2 == 0:
            return True
        start = data.find(b"\\u0000", start + 1)
    return False


def _allowed_types(path: str) -> tuple[str, ...]:
    for prefix, types in _BODY_TYPES:
        if path.startswith(prefix):
            return types
    return ()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None
