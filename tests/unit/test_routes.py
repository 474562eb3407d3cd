"""Routes are matched in ``MATCH_ORDER`` (hot routers first), documented in ``ALL``'s order."""

from __future__ import annotations

import re

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Match

from api import routers
from api.main import create_app
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(make_settings("sqlite+aiosqlite:///:memory:"))


def _routes(app: FastAPI) -> list[APIRoute]:
    return [r for r in app.routes if isinstance(r, APIRoute)] + [
        r for router in routers.ALL for r in router.routes if isinstance(r, APIRoute)
    ]


def _matched(app: FastAPI, method: str, path: str) -> APIRoute | None:
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "app": app,
        "headers": [],
        "query_string": b"",
    }
    for candidate in app.router.routes:
        if candidate.matches(scope)[0] is not Match.FULL:
            continue
        if isinstance(candidate, APIRoute):
            return candidate
        # An included router took it: the first of its routes that does.
        inner = candidate.original_router.routes  # type: ignore[attr-defined]
        return next(r for r in inner if r.matches(scope)[0] is Match.FULL)
    return None


def test_every_route_is_reached_by_its_own_path(app: FastAPI) -> None:
    """Moving a router earlier must not let one of its templates swallow another router's
    path (``/v1/sessions/{id}`` would take ``/v1/sessions/board`` if it came first)."""
    checked = 0
    for route in {id(r): r for r in _routes(app)}.values():
        path = re.sub(r"\{[^}]+\}", "x1", route.path)
        for method in route.methods:
            found = _matched(app, method, path)
            assert found is not None, (method, route.path)
            assert found.endpoint is route.endpoint, (method, route.path, found.path)
            checked += 1
    assert checked > 50


def test_the_check_sees_a_template_that_swallows_a_later_routers_path() -> None:
    early, late = APIRouter(prefix="/v1/x"), APIRouter(prefix="/v1/x")

    @early.get("/{item_id}")
    def by_id(item_id: str) -> str:
        return item_id

    @late.get("/board")
    def board() -> str:
        return "board"

    app = FastAPI()
    app.include_router(early)
    app.include_router(late)
    found = _matched(app, "GET", "/v1/x/board")
    assert found is not None
    assert found.endpoint is by_id


def test_hot_routers_come_first_and_every_router_is_mounted_once() -> None:
    assert routers.MATCH_ORDER[0] is routers.vitals
    assert sorted(map(id, routers.MATCH_ORDER)) == sorted(map(id, routers.ALL))


def test_the_docs_keep_their_section_order(app: FastAPI) -> None:
    tags = [t["name"] for t in app.openapi()["tags"]]
    assert tags[:4] == ["health", "auth", "patients", "dosing plans"]
    assert tags.index("sessions") < tags.index("vitals") < tags.index("fhir")
    used = {t for ops in app.openapi()["paths"].values() for op in ops.values() for t in op["tags"]}
    assert used <= set(tags)
