from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request

from api.auth import service
from api.auth.schemas import TokenResponse
from api.openapi import problems

router = APIRouter(tags=["auth"])


@router.post(
    "/v1/auth/token",
    response_model=TokenResponse,
    summary="Staff login (OAuth2 password form) → bearer token",
    responses=problems(401, 415, 422),
)
async def token(
    request: Request,
    username: Annotated[str, Form(min_length=1, max_length=64)],
    password: Annotated[str, Form(min_length=1, max_length=1024)],
    grant_type: Annotated[str, Form(pattern="^password$")] = "password",
) -> TokenResponse:
    settings = request.app.state.settings
    access_token = await service.login(request, settings, username, password)
    return TokenResponse(access_token=access_token, expires_in=settings.token_ttl_minutes * 60)
