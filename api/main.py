"""create_app(): settings, database, middleware, error handlers, routers, docs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from starlette.middleware.cors import CORSMiddleware

from api import routers
from api.alerts.overdue import install_overdue_watch
from api.auth.router import router as auth_router
from api.balance import ConnectionBalanceMiddleware
from api.config import Settings, get_settings
from api.db import create_engine, create_session_factory
from api.docs import install_docs
from api.errors import install_error_handlers
from api.fhir.errors import FhirOutcomeMiddleware
from api.fhir.router import public_router as fhir_public_router
from api.health import router as health_router
from api.live.retention import install_retention
from api.logging import configure_logging
from api.middleware import RequestContextMiddleware, RequestGuardMiddleware
from api.openapi import document_errors, with_security
from api.proxies import parse_networks
from api.readiness import Readiness
from api.security.actor import install_actor_resolver
from api.security.authorize import authorize
from api.security.bootstrap import bootstrap_admin
from api.station import install_station

DESCRIPTION = """
Vigil is the system of record for ketamine and esketamine treatment sessions: dosing plans,
doses given, and vital signs before, during and after dosing, watched against each plan's limits.

Every error is `application/problem+json` (RFC 9457). Timestamps are RFC 3339 with an offset and
are returned in UTC. Lists use keyset pagination (`limit`, `cursor`, `next_cursor`).
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    engine = create_engine(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await app.state.readiness.check()
        for hook in app.state.startup_hooks:
            await hook(app)
        try:
            yield
        finally:
            for hook in app.state.shutdown_hooks:
                await hook(app)
            await engine.dispose()

    app = FastAPI(
        title="Vigil",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_tags=routers.tag_order(health_router, auth_router),
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = create_session_factory(engine)
    app.state.readiness = Readiness(engine)
    app.state.secret_key = settings.resolved_secret_key()
    app.state.startup_hooks = [bootstrap_admin]
    app.state.shutdown_hooks = []
    install_actor_resolver(app)
    install_retention(app)
    install_overdue_watch(app)
    install_error_handlers(app)
    app.add_middleware(RequestGuardMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(
        RequestContextMiddleware, trusted_proxies=parse_networks(settings.trusted_proxies)
    )
    app.add_middleware(FhirOutcomeMiddleware)  # /fhir errors as OperationOutcome
    _install_cors(app, settings)
    app.add_middleware(ConnectionBalanceMiddleware)  # outermost: sees every response
    app.include_router(health_router)
    app.include_router(auth_router)
    app.include_router(fhir_public_router)  # the CapabilityStatement: FHIR clients start there
    for router in routers.MATCH_ORDER:
        app.include_router(router, dependencies=[Depends(authorize)])
    install_docs(app)
    install_station(app)
    _declare_security(app)
    return app


def _install_cors(app: FastAPI, settings: Settings) -> None:
    """Browsers on ``VIGIL_CORS_ORIGINS`` may call the API with bearer tokens (SPEC §13).

    Outside every other layer but the connection balance: a refusal (401, 413, 503) carries
    the CORS headers too, so a web page can read why. Preflights are answered here, before
    authentication (a browser sends them without credentials). No cookies are used, so no
    credentials mode.
    """
    origins = settings.cors_origin_list
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "If-Match", "Last-Event-ID"],
        expose_headers=["ETag", "Location", "Retry-After"],
        max_age=600,
    )


def _declare_security(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(with_security(build()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
