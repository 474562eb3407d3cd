"""People by name (SPEC §1): the one resolver of staff ids to names, and of a request's
"id or username" to a user.

* **Responses.** Wherever a response names a staff member by id (``recorded_by``,
  ``acknowledged_by``, ``waste_witness_id``, ...) it also carries the field with ``_name``
  appended: the user's ``display_name``, or the integration client's name for readings an
  integration wrote. :func:`add_names` fills them for a list of rows (nested lists of rows too,
  e.g. a session's transitions) with one query per table, whatever the number of rows.
  Schemas declare the ``_name`` fields with :data:`PersonName` (or inherit
  :class:`api.types.ReadModel` and list them).
* **Requests.** A field that names a person (``PersonRef``) accepts the user's id or username;
  :func:`resolve_person` answers the user or a 422 that says what to send.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import unicode_lower
from api.errors import ValidationFailed, field_error
from api.types import parse_id
from models import IntegrationClient, User

# Every field of a response that holds a staff member's (or integration client's) id.
PERSON_FIELDS: tuple[str, ...] = (
    "recorded_by",
    "administered_by",
    "acknowledged_by",
    "retracted_by",
    "resolved_by",
    "created_by",
    "updated_by",
    "discontinued_by",
    "bound_by",
    "released_by",
    "revoked_by",
    "waste_witness_id",
    "witnessed_by",
    "signed_by",
    "responsible_clinician",
    "responsible_clinician_id",
)
# Keys of a row whose value is a list of rows that may name people too.
NESTED_FIELDS: tuple[str, ...] = ("transitions", "administrations", "medications", "items")

# A display name in a response (None when the field names nobody).
PersonName = Annotated[str | None, Field(default=None, description="The person's display name")]
# A request field naming a person: their user id or username.
PersonRef = Annotated[
    str, Field(min_length=1, max_length=64, description="A user's id or username")
]

Row = TypeVar("Row", bound=MutableMapping[str, Any])
Model = TypeVar("Model", bound=BaseModel)


async def names_of(db: AsyncSession, ids: Iterable[str | uuid.UUID | None]) -> dict[str, str]:
    """``{id: name}`` for users (display name) and integration clients (name); ids naming
    nobody are left out. Two queries at most."""
    wanted = {parse_id(str(i)) for i in ids if i}
    wanted.discard(None)
    if not wanted:
        return {}
    names = {
        str(uid): name
        for uid, name in await db.execute(
            select(User.id, User.display_name).where(User.id.in_(wanted))
        )
    }
    rest = {w for w in wanted if str(w) not in names}
    if rest:
        names.update(
            (str(cid), name)
            for cid, name in await db.execute(
                select(IntegrationClient.id, IntegrationClient.name).where(
                    IntegrationClient.id.in_(rest)
                )
            )
        )
    return names


def _fields_of(first: Any) -> tuple[list[str], list[str]]:
    """The person and nested fields a list's rows carry, read off its first row: the rows of
    one list come from one query and share their keys (checking each row for all sixteen
    person fields cost a quarter of a 500-reading page)."""
    if isinstance(first, Mapping):
        return (
            [f for f in PERSON_FIELDS if f in first],
            [n for n in NESTED_FIELDS if n in first],
        )
    return (
        [f for f in PERSON_FIELDS if hasattr(first, f)],
        [n for n in NESTED_FIELDS if hasattr(first, n)],
    )


def _fill(rows: Sequence[MutableMapping[str, Any]], names: dict[str, str]) -> None:
    if not rows:
        return
    person, nested = _fields_of(rows[0])
    for row in rows:
        for field in person:
            value = row.get(field)
            row[f"{field}_name"] = names.get(str(value)) if value else None
        for key in nested:
            children = row.get(key)
            if isinstance(children, list):
                _fill([c for c in children if isinstance(c, MutableMapping)], names)


async def add_names(db: AsyncSession, rows: list[Row]) -> list[Row]:
    """Add ``<field>_name`` next to every person field of ``rows`` (in place; returned)."""
    wanted: set[str] = set()
    _collect_any(rows, wanted)
    _fill(rows, await names_of(db, wanted) if wanted else {})
    return rows


def _collect_any(items: Iterable[Any], into: set[str]) -> None:
    """Person ids in rows that are mappings or objects (ORM rows), nested lists included."""
    rows = items if isinstance(items, Sequence) else list(items)
    if not rows:
        return
    person, nested = _fields_of(rows[0])
    for item in rows:
        get = item.get if isinstance(item, Mapping) else None
        for field in person:
            value = get(field) if get is not None else getattr(item, field, None)
            if value:
                into.add(str(value))
        for key in nested:
            children = get(key) if get is not None else getattr(item, key, None)
            if isinstance(children, list):
                _collect_any(children, into)


async def validate_named(db: AsyncSession, model: type[Model], source: Any) -> Model:
    """``model.model_validate(source)`` with every ``<field>_name`` filled (one batch query):
    the way a router builds a response that names people (see :class:`api.types.ReadModel`)."""
    return (await validate_all_named(db, model, [source]))[0]


async def validate_all_named(
    db: AsyncSession, model: type[Model], sources: Sequence[Any]
) -> list[Model]:
    """:func:`validate_named` for a list, with one batch of queries for all of it."""
    wanted: set[str] = set()
    _collect_any(sources, wanted)
    names = await names_of(db, wanted) if wanted else {}
    return [model.model_validate(s, context={"names": names}) for s in sources]


def _models(value: Any) -> Iterable[BaseModel]:
    if isinstance(value, BaseModel):
        yield value
        for field in type(value).model_fields:
            yield from _models(getattr(value, field))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _models(item)


async def named(db: AsyncSession, value: Model) -> Model:
    """Fill every ``<field>_name`` of an already built response (nested models and pages too),
    with one batch of queries; for responses built outside the router (e.g. plans)."""
    pairs = [
        (m, field)
        for m in _models(value)
        for field in type(m).model_fields
        if field.endswith("_name") and field[:-5] in type(m).model_fields
    ]
    ids = {str(getattr(m, f[:-5])) for m, f in pairs if getattr(m, f[:-5])}
    names = await names_of(db, ids) if ids else {}
    for m, field in pairs:
        person = getattr(m, field[:-5])
        if person and getattr(m, field) is None:
            object.__setattr__(m, field, names.get(str(person)))
    return value


async def find_staff(db: AsyncSession, ref: str) -> User | None:
    """The user a request names by id or by username (SPEC §1; usernames compared
    case-insensitively), or None: the one look-up behind every request field naming a person."""
    uid = parse_id(ref)
    if uid is not None:
        user = await db.get(User, uid)
        if user is not None:
            return user
    return await db.scalar(
        select(User).where(unicode_lower(User.username) == ref.strip().lower()).limit(1)
    )


async def resolve_person(
    db: AsyncSession,
    ref: str,
    *,
    loc: Sequence[str | int],
    roles: Iterable[str] | None = None,
    what: str = "a member of staff",
) -> User:
    """The active user named by ``ref`` (id or username, usernames compared case-insensitively)
    with one of ``roles``; 422 at ``loc`` otherwise, saying what to send."""
    user = await find_staff(db, ref)
    allowed = set(roles) if roles is not None else None
    if user is None or user.disabled or (allowed is not None and user.role not in allowed):
        kinds = f" ({' or '.join(sorted(allowed))})" if allowed else ""
        raise ValidationFailed(
            [
                field_error(
                    list(loc),
                    f"{ref!r} is not {what}{kinds} with an active account: give their "
                    "username or user id (GET /v1/staff lists them)",
                )
            ]
        )
    return user
