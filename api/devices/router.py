from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, status

from api.audit import AuditDep
from api.db import DbSession
from api.devices import service
from api.devices.schemas import (
    BindingCreate,
    BindingRead,
    BindingRelease,
    DeviceCreate,
    DeviceRead,
)
from api.openapi import PROBLEMS, problems
from api.pagination import Cursor, Limit, Page
from api.people import validate_all_named, validate_named

router = APIRouter(tags=["devices"], responses=PROBLEMS)


@router.post(
    "/v1/devices",
    status_code=status.HTTP_201_CREATED,
    response_model=DeviceRead,
    summary="Register a monitoring device (admin)",
    responses=problems(409),
)
async def create_device(body: DeviceCreate, db: DbSession, audit: AuditDep) -> DeviceRead:
    device = await service.create_device(
        db, audit, identifier=body.identifier, model=body.model, location=body.location
    )
    return await validate_named(db, DeviceRead, service.device_view(device))


@router.get(
    "/v1/devices",
    response_model=Page[DeviceRead],
    summary="Registered devices, with the session each is bound to now",
)
async def list_devices(db: DbSession, limit: Limit = 50, cursor: Cursor = None) -> Page[DeviceRead]:
    rows, next_cursor = await service.list_devices(db, limit=limit, cursor=cursor)
    return Page(items=await validate_all_named(db, DeviceRead, rows), next_cursor=next_cursor)


@router.post(
    "/v1/sessions/{session_id}/devices",
    status_code=status.HTTP_201_CREATED,
    response_model=BindingRead,
    summary="Bind a device to a session",
    description=(
        "The device's readings measured from the session's check-in until the session ends "
        "(or the binding is released) go to this session. A device has one open binding at a "
        "time: 409 while it is bound to another session that has not ended."
    ),
    responses=problems(404, 409),
)
async def bind_device(
    session_id: str, body: BindingCreate, db: DbSession, audit: AuditDep
) -> BindingRead:
    return await validate_named(
        db, BindingRead, await service.bind_device(db, audit, session_id, body.device_id)
    )


@router.get(
    "/v1/sessions/{session_id}/devices",
    response_model=list[BindingRead],
    summary="Devices bound to a session (open and released)",
    responses=problems(404),
)
async def list_bindings(session_id: str, db: DbSession, audit: AuditDep) -> list[BindingRead]:
    rows = await service.list_bindings(db, audit, session_id)
    return await validate_all_named(db, BindingRead, rows)


@router.post(
    "/v1/sessions/{session_id}/devices/{binding_id}/release",
    response_model=BindingRead,
    summary="Unbind a device from a session",
    description="Readings measured after the release no longer go to this session.",
    responses=problems(404, 409),
)
async def release_binding(
    session_id: str,
    binding_id: str,
    db: DbSession,
    audit: AuditDep,
    body: Annotated[
        BindingRelease | None,
        Body(
            openapi_examples={
                "no reason": {"value": {}},
                "with a reason": {"value": {"reason": "monitor swapped for chair-4's"}},
            }
        ),
    ] = None,
) -> BindingRead:
    reason = body.reason if body is not None else None
    return await validate_named(
        db, BindingRead, await service.release_binding(db, audit, session_id, binding_id, reason)
    )
