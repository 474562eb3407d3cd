"""Driver errors that mean "database not there right now" are 503s, found through the chain."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from api.errors import _looks_like_connection_loss


class AdapterError(Exception):
    """Stands in for SQLAlchemy's asyncpg adapter exception (it wraps the driver's)."""


class CannotConnectNowError(Exception):
    sqlstate = "57P03"


class SomeDriverError(Exception):
    pass


def _wrapped(driver_error: Exception) -> DBAPIError:
    try:
        try:
            raise driver_error
        except Exception as inner:
            raise AdapterError(str(inner)) from inner
    except AdapterError as adapter:
        return DBAPIError("SELECT 1", None, adapter)


def test_server_shutting_down_behind_the_adapter_is_unavailable() -> None:
    assert _looks_like_connection_loss(_wrapped(CannotConnectNowError("shutting down")))


def test_connection_class_sqlstate_is_unavailable() -> None:
    error = SomeDriverError("gone")
    error.sqlstate = "08006"  # type: ignore[attr-defined]
    assert _looks_like_connection_loss(_wrapped(error))


def test_os_level_refusal_is_unavailable() -> None:
    assert _looks_like_connection_loss(_wrapped(ConnectionRefusedError()))


def test_an_ordinary_driver_error_is_not() -> None:
    error = SomeDriverError("value out of range")
    error.sqlstate = "22003"  # type: ignore[attr-defined]
    assert not _looks_like_connection_loss(_wrapped(error))


def test_too_many_connections_is_unavailable() -> None:
    """PostgreSQL at max_connections ("sorry, too many clients already"): a 503, not a bug."""
    error = SomeDriverError("sorry, too many clients already")
    error.sqlstate = "53300"  # type: ignore[attr-defined]
    assert _looks_like_connection_loss(_wrapped(error))
