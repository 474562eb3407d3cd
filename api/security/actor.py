"""How a request's actor is resolved. Until staff login exists every request acts as the
development clinician; the security module replaces this resolver, routes stay unchanged."""

from __future__ import annotations

from fastapi import FastAPI, Request

from api.deps import Actor

DEVELOPMENT_ACTOR = Actor(id="00000000-0000-0000-0000-000000000001", role="clinician", name="dev")


async def development_actor(_: Request) -> Actor:
    return DEVELOPMENT_ACTOR


def install_actor_resolver(app: FastAPI) -> None:
    app.state.actor_resolver = development_actor
