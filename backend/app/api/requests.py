"""Reading requests, shared by the routers: client identity and credentials, the generation rate
limit, bounded body reading."""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import UploadFile

from app.core.errors import PayloadTooLarge, RateLimited
from app.services.auth import COOKIE_NAME, Verdict
from app.services.container import Services


def client_key(request: Request) -> str:
    """The client's address: the peer's, or the one a trusted proxy named (``ForwardedClient`` in
    app/api/access.py has already put it in ``request.client``)."""
    return request.client.host if request.client else "unknown"


async def authenticate(services: Services, request: Request) -> Verdict:
    """What the request's session cookie or Bearer password is worth (every wrong one counts)."""
    return await services.auth.authenticate(
        client_key(request), request.cookies.get(COOKIE_NAME), request.headers.get("authorization")
    )


def check_content_length(request: Request, limit: int) -> None:
    """Refuse before reading when the client announces a body far above the limit."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge.over_limit(limit)


async def read_upload(file: UploadFile, limit: int) -> bytes:
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge.over_limit(limit)
    return data


async def rate_limit(services: Services, request: Request) -> None:
    """Every request that starts a billed generation passes here (per client, across replicas)."""
    wait = await services.generation_limiter.hit(client_key(request))
    if wait:
        raise RateLimited(
            f"Too many generation requests from this client; try again in {int(wait) + 1} s.",
            message_zh=f"生成请求过于频繁，请在 {int(wait) + 1} 秒后再试。",
            details={"retry_after": wait},
        )
