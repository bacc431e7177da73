"""Signing in and out (APP_PASSWORD), and the check nginx asks before it serves an image."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from app.api.deps import ServicesDep
from app.api.requests import authenticate, client_key
from app.schemas.errors import ErrorResponse
from app.services.auth import COOKIE_NAME, SESSION_SECONDS

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class LoginIn(BaseModel):
    password: str = Field(min_length=1, max_length=1000)


class AuthStatus(BaseModel):
    auth_required: bool
    authenticated: bool


def _signed_out(response: Response) -> Response:
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response


@router.get("/status", response_model=AuthStatus)
async def auth_status(services: ServicesDep, request: Request) -> AuthStatus:
    verdict = await authenticate(services, request)
    return AuthStatus(auth_required=services.auth.required, authenticated=verdict.ok)


@router.get(
    "/check",
    status_code=204,
    responses={401: {"description": "No valid session or Bearer password (no body)."}},
)
async def check(services: ServicesDep, request: Request) -> Response:
    """204 when the caller may see stored images, else 401; never a body.

    nginx asks this (``auth_request``) before it serves ``/images/...``, and caches the answer for
    a few seconds per session cookie. ``X-Image-Cache-Control`` tells it how the image may be
    cached: privately behind a password, publicly without one. A client locked out for wrong
    secrets gets 401 too: ``auth_request`` understands no 429.
    """
    if not (await authenticate(services, request)).ok:
        return Response(status_code=401)
    return Response(status_code=204, headers={"X-Image-Cache-Control": services.auth.image_cache_control})


@router.post("/login", status_code=204, responses={401: {"model": ErrorResponse}, 429: {"model": ErrorResponse}})
async def login(body: LoginIn, services: ServicesDep, request: Request) -> Response:
    token = await services.auth.login(client_key(request), body.password, request.headers.get("user-agent"))
    response = Response(status_code=204)
    if token is not None:
        response.set_cookie(
            COOKIE_NAME,
            token,
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
    return response


@router.post("/logout", status_code=204)
async def logout(services: ServicesDep, request: Request) -> Response:
    """End this session: its cookie stops working everywhere, copies included."""
    token = request.cookies.get(COOKIE_NAME)
    if token:
        await services.auth.sessions.revoke(token)
    return _signed_out(Response(status_code=204))


@router.post("/logout-all", status_code=204, responses={401: {"model": ErrorResponse}, 429: {"model": ErrorResponse}})
async def logout_all(services: ServicesDep) -> Response:
    """Sign out everywhere: end every session (this one included). Needs a session or the Bearer
    password, like every other route."""
    await services.auth.sessions.revoke_all()
    return _signed_out(Response(status_code=204))
