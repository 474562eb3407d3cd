from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Database reachable and migrated to head",
    responses={503: {"description": "Not ready; `detail` says why"}},
)
async def readyz(request: Request) -> JSONResponse:
    readiness = request.app.state.readiness
    if await readiness.check():
        return JSONResponse({"status": "ready"})
    return JSONResponse(
        {
            "type": "https://vigil.invalid/problems/service-unavailable",
            "title": "Not ready",
            "status": 503,
            "detail": readiness.reason,
        },
        status_code=503,
        media_type="application/problem+json",
    )
