"""Every error path answers problem+json; nothing half-stored after a rejected request."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Staff


async def test_malformed_json_is_400_problem(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/patients", content=b'{"mrn": ', headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert set(body) >= {"type", "title", "status", "detail"}


async def test_wrong_content_type_is_415(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/patients", content=b"mrn=1", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert r.json()["status"] == 415


async def test_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/patients",
        content=b"{" + b" " * 2_100_000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"


async def test_unknown_path_is_404_problem(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/nothing-here")
    assert r.status_code in (401, 404)
    assert r.headers["content-type"] == "application/problem+json"


async def test_wrong_method_is_405_problem(client: httpx.AsyncClient) -> None:
    r = await client.delete("/v1/patients")
    assert r.status_code == 405
    assert r.headers["content-type"] == "application/problem+json"


async def test_unexpected_exception_is_500_problem_without_trace(
    app: FastAPI, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.patients import service

    async def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service, "search_patients", boom)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://t",
        headers={"Authorization": f"Bearer {staff.tokens['clinician']}"},
    ) as c:
        r = await c.get("/v1/patients")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert "secret internals" not in r.text
    assert "Traceback" not in r.text


async def test_docs_are_served_without_external_assets(anon_client: httpx.AsyncClient) -> None:
    html = (await anon_client.get("/docs")).text
    assert "/docs/static/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    assert (await anon_client.get("/docs/static/swagger-ui-bundle.js")).status_code == 200


async def test_every_request_body_has_an_example(app: FastAPI) -> None:
    spec = app.openapi()
    schemas = spec["components"]["schemas"]
    missing = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            content = op.get("requestBody", {}).get("content", {})
            for media, media_obj in content.items():
                if media != "application/json":
                    continue
                ref = media_obj["schema"].get("$ref", "")
                schema = schemas.get(ref.rsplit("/", 1)[-1], {})
                if not (schema.get("examples") or media_obj.get("examples")):
                    missing.append(f"{method.upper()} {path}")
    assert missing == []


async def test_every_route_documents_its_errors(app: FastAPI) -> None:
    for path, item in app.openapi()["paths"].items():
        if not path.startswith("/v1/") or path == "/v1/auth/token":
            continue
        for method, op in item.items():
            assert {"401", "403", "422"} <= set(op["responses"]), f"{method} {path}"


def test_a_problem_extension_cannot_reuse_a_standard_member_name() -> None:
    # An extension named "status" would replace the HTTP status clients read in the body.
    from api.errors import Conflict

    with pytest.raises(TypeError, match="status"):
        Conflict("the alert is acknowledged", status="acknowledged")
    assert Conflict("x", alert_status="acknowledged").body()["status"] == 409
