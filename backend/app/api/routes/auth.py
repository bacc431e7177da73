"""Signing in and out (a user name and password, or the admin password alone), who am I, and the
check nginx asks before it serves an image."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from app.api.deps import PrincipalDep, ServicesDep
from app.api.requests import authenticate, client_key, image_permission
from app.schemas.errors import ErrorResponse
from app.schemas.users import Me
from app.services.auth import COOKIE_NAME, SESSION_SECONDS

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class LoginIn(BaseModel):
    # Omitted: the first admin's password alone (a single-password install signs in as before).
    username: str | None = Field(default=None, max_length=64)
    password: str = Field(min_length=1, max_length=1000)


class AuthStatus(BaseModel):
    auth_required: bool
    authenticated: bool
    # Who, when authenticated (without a password: the local admin).
    user: Me | None = None


def _signed_out(response: Response) -> Response:
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response


@router.get("/status", response_model=AuthStatus)
async def auth_status(services: ServicesDep, request: Request) -> AuthStatus:
    verdict = await authenticate(services, request)
    who = verdict.principal
    return AuthStatus(
        auth_required=services.auth.required,
        authenticated=verdict.ok,
        user=Me(id=who.user_id, username=who.username, role=who.role) if verdict.ok and who else None,
    )


@router.get(
    "/check",
    status_code=204,
    responses={
        401: {"description": "No valid session, Bearer secret or signed link (no body)."},
        403: {"description": "Not this user's image, or no such image (no body)."},
    },
)
async def check(services: ServicesDep, request: Request) -> Response:
    """204 when the caller may see the stored image nginx names in ``X-Original-URI``, 401 when
    it is nobody, 403 when the image is not theirs (nginx answers that as a 404); never a body.

    nginx asks this (``auth_request``) before it serves ``/images/...``, and caches the answer for
    a few seconds per session cookie and URI. A signed link (``?u=&exp=&sig=``, handed out by the
    OpenAI-compatible API) opens its image without a session. ``X-Image-Cache-Control`` tells
    nginx how the image may be cached: privately behind a password, publicly without one. A client
    locked out for wrong secrets gets 401 too: ``auth_request`` understands no 429. Without
    ``X-Original-URI`` only an admin (who sees every image) is answered 204.
    """
    original = request.headers.get("x-original-uri")
    if original is None:
        verdict = await authenticate(services, request)
        if not verdict.ok or verdict.principal is None:
            return Response(status_code=401)
        status = 204 if verdict.principal.is_admin else 403
    else:
        path, _, query = original.partition("?")
        status, _verdict = await image_permission(services, request, path, dict(parse_qsl(query)))
        status = 403 if status == 404 else status
    if status != 204:
        return Response(status_code=status)
    return Response(status_code=204, headers={"X-Image-Cache-Control": services.auth.image_cache_control})


@router.post("/login", status_code=204, responses={401: {"model": ErrorResponse}, 429: {"model": ErrorResponse}})
async def login(body: LoginIn, services: ServicesDep, request: Request) -> Response:
    token = await services.auth.login(
        client_key(request), body.username, body.password, request.headers.get("user-agent")
    )
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
async def logout_all(services: ServicesDep, who: PrincipalDep) -> Response:
    """Sign out everywhere: an admin ends every session (this one included), a member their own.
    Needs a session or a Bearer secret, like every other route."""
    if who.is_admin:
        await services.auth.sessions.revoke_all()
    else:
        await services.auth.sessions.revoke_user(who.user_id)
    return _signed_out(Response(status_code=204))
