"""Domain errors and the one place that turns every error into RFC 9457 problem+json."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("vigil.errors")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://vigil.invalid/problems/"


class DomainError(Exception):
    """Raised by services; rendered as problem+json by :func:`install_error_handlers`."""

    status: int = 400
    type_slug: str = "bad-request"
    title: str = "Bad request"
    headers: dict[str, str] | None = None

    # RFC 9457's own members: an extension member may not reuse their names (a session's
    # "status" in a problem would hide the HTTP status that clients read there).
    RESERVED = frozenset({"type", "title", "status", "detail", "instance"})

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        clash = self.RESERVED & extra.keys()
        if clash:
            raise TypeError(f"problem extension members may not be named {sorted(clash)}")
        self.detail = detail
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {
            "type": TYPE_BASE + self.type_slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extra,
        }


class BadRequest(DomainError):
    status, type_slug, title = 400, "bad-request", "Malformed request"


class Unauthorized(DomainError):
    status, type_slug, title = 401, "unauthorized", "Authentication required"
    headers = {"WWW-Authenticate": "Bearer"}  # noqa: RUF012 - constant


class Forbidden(DomainError):
    status, type_slug, title = 403, "forbidden", "Not allowed for your role"


class NotFound(DomainError):
    status, type_slug, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    status, type_slug, title = 409, "conflict", "Conflict with the current state"


class PreconditionFailed(DomainError):
    status, type_slug, title = 412, "precondition-failed", "The resource has changed"


class PayloadTooLarge(DomainError):
    status, type_slug, title = 413, "payload-too-large", "Request body too large"


class UnsupportedMediaType(DomainError):
    status, type_slug, title = 415, "unsupported-media-type", "Unsupported content type"


class ServiceUnavailable(DomainError):
    status, type_slug, title = 503, "service-unavailable", "Service unavailable"


class ValidationFailed(DomainError):
    """422 with an ``errors`` list of ``{loc, msg}`` pointing into the request."""

    status, type_slug, title = 422, "validation", "Invalid request"

    def __init__(
        self, errors: Sequence[dict[str, Any]], detail: str | None = None, **extra: Any
    ) -> None:
        super().__init__(detail or _summarize(errors), errors=list(errors), **extra)


def refusal(detail: str, unmet: Sequence[Mapping[str, Any]], **extra: Any) -> Conflict:
    """A refusal named by a code (SPEC §4 "Refusals and overrides"): 409 with the top-level
    ``code`` (the first reason) and ``unmet``, the full list of ``{code, message,
    overridable, ...}`` items. Used by every coded 409: transitions, plans, session creation,
    repin, administrations."""
    items = [{"overridable": False, **u} for u in unmet]
    if not items:
        raise ValueError("a refusal names at least one unmet item")
    return Conflict(detail, code=items[0]["code"], unmet=items, **extra)


def coded_refusal(code: str, message: str, **fields: Any) -> Conflict:
    """A refusal with one reason: ``detail`` is its message."""
    return refusal(message, [{"code": code, "message": message, **fields}])


def coded_validation_error(code: str, loc: Sequence[str | int], msg: str) -> ValidationFailed:
    """A 422 named by a code: the code at the top level and in its ``errors[]`` entry."""
    return ValidationFailed([{**field_error(loc, msg), "code": code}], code=code)


def field_error(loc: Sequence[str | int], msg: str) -> dict[str, Any]:
    return {"loc": list(loc), "msg": msg}


def _summarize(errors: Sequence[dict[str, Any]]) -> str:
    if not errors:
        return "The request is not valid."
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", []))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first.get('msg')}{more}"


def problem_response(
    status: int, title: str, detail: str, *, type_slug: str | None = None, **extra: Any
) -> JSONResponse:
    body = {
        "type": TYPE_BASE + (type_slug or HTTPStatus(status).phrase.lower().replace(" ", "-")),
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


# SPEC §1 strict types: say what was sent and what to send instead.
_STRICT_TYPE_MESSAGES = {
    "float_type": "must be a JSON number",
    "int_type": "must be a JSON integer",
    "bool_type": "must be true or false",
    "string_type": "must be a JSON string",
}


def _clean_validation_message(error: dict[str, Any]) -> str:
    msg = str(error.get("msg", "invalid"))
    if error.get("type") == "extra_forbidden":
        return "unknown field"
    wanted = _STRICT_TYPE_MESSAGES.get(str(error.get("type")))
    if wanted is not None and "input" in error:
        sent = error["input"]
        kind = (
            "a boolean"
            if isinstance(sent, bool)
            else "a string"
            if isinstance(sent, str)
            else "null"
            if sent is None
            else "a number"
            if isinstance(sent, int | float)
            else "a list or object"
        )
        return f"{wanted}, not {kind}"
    return msg.removeprefix("Value error, ")


def _is_malformed_body(errors: Sequence[Any]) -> bool:
    return any(e.get("type") == "json_invalid" for e in errors)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(
            exc.body(), status_code=exc.status, media_type=PROBLEM_JSON, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if _is_malformed_body(errors):
            detail = next(
                (e.get("ctx", {}).get("error") for e in errors if e.get("type") == "json_invalid"),
                None,
            )
            return problem_response(
                400,
                "Malformed JSON",
                f"The request body is not valid JSON: {detail}",
                type_slug="malformed-json",
            )
        items = [
            field_error(
                [p for p in e.get("loc", ()) if isinstance(p, str | int)],
                _clean_validation_message(e),
            )
            for e in errors
        ]
        return JSONResponse(
            ValidationFailed(items).body(), status_code=422, media_type=PROBLEM_JSON
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        phrase = HTTPStatus(exc.status_code).phrase
        detail = exc.detail if isinstance(exc.detail, str) else phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = "No resource at this path."
        response = problem_response(exc.status_code, phrase, detail)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", type(exc).__name__)
        return problem_response(
            503,
            "Service unavailable",
            "The database is not reachable; try again shortly.",
            type_slug="service-unavailable",
        )

    for error in _ALWAYS_UNAVAILABLE:
        app.add_exception_handler(error, _unavailable)

    @app.exception_handler(DBAPIError)
    async def _dbapi(request: Request, exc: DBAPIError) -> JSONResponse:
        if database_unavailable(exc):
            return await _unavailable(request, exc)
        log.exception("database error")
        return problem_response(500, "Internal server error", "An unexpected error occurred.")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error: %s", type(exc).__name__)
        response = problem_response(500, "Internal server error", "An unexpected error occurred.")
        # Starlette answers this one outside every middleware (and then re-raises), so the
        # headers api.middleware gives every response are set here: above all
        # ``Connection: close``, so the client opens a fresh connection after a failure.
        response.headers["connection"] = "close"
        response.headers["cache-control"] = "no-store"
        response.headers["x-content-type-options"] = "nosniff"
        return response


# SQLSTATEs that mean "the database is not there right now", not "this request is wrong":
# class 08 (connection exceptions) and 57P01-57P03 (admin/crash shutdown, cannot connect now:
# what a server that is stopping or starting answers).
# 53300: too_many_connections (the server's max_connections is reached: try again shortly)
_UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "53300", "57P01", "57P02", "57P03")
_UNAVAILABLE_NAMES = (
    "ConnectionDoesNotExist",
    "CannotConnectNow",
    "ConnectionFailure",
    "InterfaceError",
    "AdminShutdown",
    "CrashShutdown",
    "ConnectionRefused",
    "ConnectionReset",
)


# Errors that always mean "the database is not there right now" (503), whatever their detail.
_ALWAYS_UNAVAILABLE: tuple[type[Exception], ...] = (
    OperationalError,
    PoolTimeoutError,
    ConnectionError,
    OSError,
)


def database_unavailable(exc: BaseException) -> bool:
    """Does this error mean the database is away right now (a 503: try again), not a bug?"""
    if isinstance(exc, _ALWAYS_UNAVAILABLE):
        return True
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or _looks_like_connection_loss(exc)
    )


def _looks_like_connection_loss(exc: DBAPIError) -> bool:
    """Does this driver error mean the database is unreachable (503) rather than a bug (500)?

    The driver's own exception sits behind SQLAlchemy's adapter exception, so the whole chain
    (``orig`` and its causes) is checked, by class name and by SQLSTATE."""
    seen: set[int] = set()
    error: BaseException | None = exc.orig
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        name = type(error).__name__
        if any(word in name for word in _UNAVAILABLE_NAMES) or isinstance(error, OSError):
            return True
        state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(state, str) and state.startswith(_UNAVAILABLE_SQLSTATE_PREFIXES):
            return True
        error = error.__cause__ or error.__context__
    return False
