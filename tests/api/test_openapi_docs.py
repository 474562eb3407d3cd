"""The OpenAPI document says what the API really sends (issue 19): errors under
``application/problem+json`` (FHIR: ``application/fhir+json`` OperationOutcome) with their
schema and an example per status, an example for every request body, and ids as plain strings
so a generated client sends back the id it received (tests/api/test_generated_client.py runs
one)."""

from __future__ import annotations

import json

from fastapi import FastAPI

METHODS = {"get", "post", "put", "patch", "delete"}


def operations(app: FastAPI) -> list[tuple[str, str, dict]]:  # type: ignore[type-arg]
    return [
        (method, path, op)
        for path, item in app.openapi()["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


async def test_every_error_is_declared_under_its_real_media_type_with_an_example(
    app: FastAPI,
) -> None:
    wrong = []
    for method, path, op in operations(app):
        for code, response in op["responses"].items():
            if code[:1] not in "45":
                continue
            media = (
                "application/fhir+json" if path.startswith("/fhir/") else "application/problem+json"
            )
            schema = "OperationOutcome" if path.startswith("/fhir/") else "Problem"
            content = response.get("content", {})
            declared = content.get(media, {})
            if set(content) != {media}:
                wrong.append(f"{method} {path} {code}: {sorted(content)}")
            elif declared.get("schema") != {"$ref": f"#/components/schemas/{schema}"}:
                wrong.append(f"{method} {path} {code}: schema {declared.get('schema')}")
            elif "example" not in declared:
                wrong.append(f"{method} {path} {code}: no example")
            elif schema == "Problem" and declared["example"]["status"] != int(code):
                wrong.append(f"{method} {path} {code}: example of {declared['example']['status']}")
    assert wrong == []


async def test_errors_are_declared_where_they_apply(app: FastAPI) -> None:
    missing = []
    for method, path, op in operations(app):
        codes = set(op["responses"])
        need = {"503"}
        if op.get("security"):
            need |= {"401", "403"}
        if "{" in path:
            need.add("404")
        if "requestBody" in op:
            need |= {"400", "413", "415", "422"}
        if not need <= codes:
            missing.append(f"{method} {path}: {sorted(need - codes)}")
    assert missing == []


async def test_every_request_body_has_an_example_in_every_media_type(app: FastAPI) -> None:
    missing = [
        f"{method} {path} {media}"
        for method, path, op in operations(app)
        for media, body in op.get("requestBody", {}).get("content", {}).items()
        if "example" not in body and "examples" not in body
    ]
    assert missing == []


async def test_ids_are_plain_strings(app: FastAPI) -> None:
    spec = app.openapi()
    assert '"uuid"' not in json.dumps(spec)
    session = spec["components"]["schemas"]["SessionRead"]["properties"]
    assert session["id"] == {"type": "string", "title": "Id"}
    create = spec["components"]["schemas"]["SessionCreate"]["properties"]
    assert create["patient_id"]["type"] == session["patient_id"]["type"] == "string"


async def test_the_problem_schema_carries_refusal_members(app: FastAPI) -> None:
    problem = app.openapi()["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code", "errors", "unmet", "allowed"} <= set(
        problem["properties"]
    )
    assert problem.get("additionalProperties") is True
