from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from app.api.deps import ServicesDep
from app.api.requests import client_key
from app.core.errors import RateLimited, Unauthorized
from app.schemas.errors import ErrorResponse
from app.services.auth import COOKIE_NAME, SESSION_SECONDS

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class LoginIn(BaseModel):
    password: str = Field(min_length=1, max_length=1000)


class AuthStatus(BaseModel):
    auth_required: bool
    authenticated: bool


@router.get("/status", response_model=AuthStatus)
async def auth_status(services: ServicesDep, request: Request) -> AuthStatus:
    auth = services.auth
    ok = auth.verify_cookie(request.cookies.get(COOKIE_NAME)) or auth.verify_bearer(request.headers.get("authorization"))
    return AuthStatus(auth_required=auth.required, authenticated=ok)


@router.post("/login", status_code=204, responses={401: {"model": ErrorResponse}, 429: {"model": ErrorResponse}})
async def login(body: LoginIn, services: ServicesDep, request: Request) -> Response:
    auth = services.auth
    key = client_key(request)
    wait = auth.login_failures.retry_after(key)
    if wait:
        raise RateLimited(
            f"Too many failed sign-ins; try again in {int(wait) + 1} s.",
            message_zh=f"登录失败次数过多，请在 {int(wait) + 1} 秒后再试。",
            details={"retry_after": wait},
        )
    if not auth.check_password(body.password):
        auth.login_failures.hit(key)
        raise Unauthorized("Wrong password.", message_zh="密码错误。")
    response = Response(status_code=204)
    if auth.required:
        response.set_cookie(
            COOKIE_NAME,
            auth.issue(),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
    return response


@router.post("/logout", status_code=204)
async def logout() -> Response:
    response = Response(status_code=204)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response
