from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from api.audit import AuditDep
from api.auth import service
from api.db import DbSession
from api.openapi import PROBLEMS
from api.security.actor import bearer_token

router = APIRouter(tags=["auth"], responses=PROBLEMS)


@router.post(
    "/v1/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="End the token this request carries (on every server)",
)
async def logout(request: Request, db: DbSession, audit: AuditDep) -> Response:
    await service.logout(db, bearer_token(request), request.app.state.secret_key)
    audit.record("logout", "user", audit.actor.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
