"""The station page (SPEC §13): a reference front-end for the nursing station, served as plain
static files (ES modules and CSS, no build step) under ``/station/``.

The files hold no patient data and need no credentials (SPEC §9); everything the page shows it
fetches from the public API with the signed-in user's token, like any other front-end.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from api.security.policy import PUBLIC_STATIC_PREFIX

STATIC = Path(__file__).parent / "static"

# The page loads only its own files and talks only to its own origin.
_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        b"form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-cache"),
]


class _StationFiles(StaticFiles):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *_HEADERS]}
            await send(message)

        await super().__call__(scope, receive, with_headers)


def install_station(app: FastAPI) -> None:
    prefix = PUBLIC_STATIC_PREFIX.rstrip("/")

    @app.get(prefix, include_in_schema=False)
    async def station_root() -> RedirectResponse:
        return RedirectResponse(f"{prefix}/", status_code=308)

    app.mount(prefix, _StationFiles(directory=STATIC, html=True), name="station")
