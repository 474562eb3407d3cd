"""FHIR errors: every error under /fhir is an OperationOutcome (application/fhir+json).

Routes and services raise :class:`FhirError` (a :class:`DomainError`, so the app's one error
handler and the audit trail treat it like any other). :class:`FhirOutcomeMiddleware` then turns
every problem+json answer under ``/fhir/`` into an OperationOutcome: FHIR errors, validation
errors, 401/403 from the security layer, 404 for unknown paths, and 413/415/503 from the
request guard. So a FHIR client never sees problem+json.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import PROBLEM_JSON, DomainError
from api.fhir.translate import issue, operation_outcome

FHIR_JSON = "application/fhir+json"

_ISSUE_CODE = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    412: "conflict",
    413: "too-long",
    415: "not-supported",
    422: "processing",
    500: "exception",
    503: "transient",
}


class FhirError(DomainError):
    """An error answered as an OperationOutcome with these ``issues``."""

    type_slug, title = "fhir", "FHIR request not processed"

    def __init__(
        self, status: int, issues: Sequence[Mapping[str, Any]], detail: str | None = None
    ) -> None:
        items = [dict(i) for i in issues]
        text = detail or "; ".join(str(i.get("diagnostics", i.get("code"))) for i in items)
        super().__init__(text, issue=items)
        self.status = status


def outcome_from_problem(problem: Mapping[str, Any], status: int) -> dict[str, Any]:
    """An OperationOutcome carrying what a problem+json body said."""
    given = problem.get("issue")
    if isinstance(given, list) and given:
        return operation_outcome(given)
    code = _ISSUE_CODE.get(status, "processing")
    severity = "fatal" if status >= 500 else "error"
    errors = problem.get("errors")
    issues: list[dict[str, Any]] = []
    if isinstance(errors, list):
        for error in errors:
            loc = [str(p) for p in error.get("loc", []) if p != "body"]
            issues.append(
                issue(
                    "invalid" if status == 422 else code,
                    str(error.get("msg", "invalid")),
                    [".".join(loc)] if loc else None,
                    severity=severity,
                )
            )
    if not issues:
        detail = str(problem.get("detail") or problem.get("title") or "error")
        issues.append(issue(code, detail, severity=severity))
    return operation_outcome(issues)


class FhirOutcomeMiddleware:
    """Rewrite problem+json responses under ``/fhir/`` as OperationOutcome."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/fhir/"):
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        chunks: list[bytes] = []

        async def rewrite(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                if content_type.decode("latin-1").startswith(PROBLEM_JSON):
                    held = message
                    return
                await send(message)
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            status = int(held["status"])
            try:
                problem = orjson.loads(b"".join(chunks))
            except orjson.JSONDecodeError:
                problem = {}
            body = orjson.dumps(outcome_from_problem(problem, status))
            headers = [
                (k, v)
                for k, v in held.get("headers", [])
                if k not in (b"content-type", b"content-length")
            ]
            headers += [
                (b"content-type", FHIR_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
            ]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewrite)
