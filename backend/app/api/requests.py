"""Reading requests, shared by the routers: client identity and credentials, the generation rate
limit, bounded body reading."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from app.core.errors import InvalidRequest, PayloadTooLarge, RateLimited
from app.services.auth import COOKIE_NAME, Verdict
from app.services.container import Services
from app.services.image_access import rel_path_of


def client_key(request: Request) -> str:
    """The client's address: the peer's, or the one a trusted proxy named (``ForwardedClient`` in
    app/api/access.py has already put it in ``request.client``)."""
    return request.client.host if request.client else "unknown"


async def authenticate(services: Services, request: Request) -> Verdict:
    """What the request's session cookie or Bearer password is worth (every wrong one counts)."""
    return await services.auth.authenticate(
        client_key(request), request.cookies.get(COOKIE_NAME), request.headers.get("authorization")
    )


async def image_permission(
    services: Services, request: Request, uri_path: str, query: Mapping[str, str]
) -> tuple[int, Verdict | None]:
    """May this request see the stored image at ``uri_path``: 204, 401 (who are you) or 404 (no
    such image, or another member's), with the credentials' verdict when they were looked at.

    A signed link (``?u=&exp=&sig=``, app/services/image_access.py) opens the image for its user
    without a session; otherwise the session or Bearer secret says who asks."""
    rel_path = rel_path_of(uri_path)
    if rel_path is None:
        return 404, None
    signer = services.image_access.signer(query, rel_path)
    if signer is not None:
        principal = await services.users.principal(signer)
        if principal is not None and await services.image_access.may_see(principal, rel_path):
            return 204, None
    verdict = await authenticate(services, request)
    if not verdict.ok or verdict.principal is None:
        return 401, verdict
    if not await services.image_access.may_see(verdict.principal, rel_path):
        return 404, verdict
    return 204, verdict


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


async def json_body(request: Request) -> Any:
    """A body parsed by hand (routes that take JSON or multipart); 422 when it is not JSON."""
    try:
        return json.loads(await request.body())
    except (ValueError, RecursionError) as exc:  # RecursionError: a deeply nested body
        raise InvalidRequest(
            "The request body is not valid JSON.", message_zh="请求体不是有效的 JSON。", details={"field": "body"}
        ) from exc


def invalid_body(exc: ValidationError) -> InvalidRequest:
    """A body model's validation failure as our 422 (the first problem named, every one listed)."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "body"
    return InvalidRequest(
        f"Invalid request: {field}: {err['msg']}",
        message_zh=f"参数有误：{field}: {err['msg']}",
        details={
            "field": field,
            "errors": [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()],
        },
    )
