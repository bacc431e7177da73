"""Who may talk to the API: two ASGI middlewares, outermost first.

``ForwardedClient``: the client's address and scheme. Behind our nginx the peer is nginx; only a
peer listed in TRUSTED_PROXIES (default: loopback, where nginx runs) is believed when it names the
client in X-Real-IP (nginx sets it to the address it saw) and the scheme in X-Forwarded-Proto.
X-Forwarded-For is never read: its first entries are whatever the client wrote. uvicorn runs with
``--no-proxy-headers`` so that this is the only place forwarded headers are interpreted.

``AccessControl``, before any route runs:
1. Host: a name not on ALLOWED_HOSTS is answered 421 (DNS rebinding, app/core/hosts.py).
2. Origin: a state-changing /api request sent by a page must come from a page on an allowed name
   (or a CORS_ORIGINS origin). Never compared with Host, which a rebinding page chooses.
3. Who: /api (but signing in and out), /v1 (the OpenAI-compatible API), the API docs and the
   images the backend serves need a session cookie or ``Authorization: Bearer`` with an API token
   or the admin password (with ADMIN_PASSWORD / APP_PASSWORD; without, every request is the local
   admin); 429 while the client is locked out for wrong secrets (app/services/auth.py). The
   principal found is left in ``request.state.principal`` for the routes. A member's image that
   is not theirs answers 404.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.deps import prefers_zh
from app.api.errors import error_response, openai_error_response
from app.api.requests import authenticate, image_permission
from app.core.config import Settings
from app.core.hosts import HostAllowList, host_of
from app.services.auth import COOKIE_NAME, Verdict
from app.services.container import Services

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# /api routes anyone may call: signing in and out, and asking whether one is signed in.
OPEN_API_PATHS = frozenset({"/api/v1/auth/login", "/api/v1/auth/logout", "/api/v1/auth/status", "/api/v1/auth/check"})
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ForwardedClient:
    def __init__(self, app: ASGIApp, trusted: Sequence[Network]) -> None:
        self.app = app
        self.trusted = tuple(trusted)
        self._is_trusted = functools.lru_cache(maxsize=1024)(self._trusts)

    def _trusts(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and client and self._is_trusted(client[0]):
            scope = dict(scope)
            for name, value in scope["headers"]:
                if name == b"x-real-ip":
                    try:
                        scope["client"] = (str(ipaddress.ip_address(value.decode("latin-1").strip())), 0)
                    except ValueError:
                        pass
                elif name == b"x-forwarded-proto" and scope["type"] == "http":
                    proto = value.decode("latin-1").strip().lower()
                    if proto in ("http", "https"):
                        scope["scheme"] = proto
        await self.app(scope, receive, send)


class AccessControl:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.hosts = HostAllowList(settings.allowed_host_names)
        self.cors_origins = frozenset(settings.cors_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = await self._refusal(Request(scope))
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _refusal(self, request: Request) -> Response | None:
        zh = prefers_zh(request)
        if not self.hosts.allows(host_of(request.headers.get("host", ""))):
            return error_response(
                421,
                "host_not_allowed",
                "此服务不响应该主机名（防御 DNS 重绑定攻击）。如需通过这个主机名访问，请将它加入 ALLOWED_HOSTS 设置（逗号分隔）后重启。"
                if zh
                else "This server does not answer to this host name (a defence against DNS rebinding). To open the "
                "studio by this name, add it to the ALLOWED_HOSTS setting (comma-separated) and restart.",
                details={"host": request.headers.get("host", "")},
            )
        path = request.url.path
        api = path.startswith("/api/")
        origin = request.headers.get("origin")
        if api and origin and request.method not in SAFE_METHODS and not self._origin_allowed(origin, request):
            return error_response(403, "unauthorized", "跨站请求被拒绝。" if zh else "Cross-origin request refused.")
        services: Services | None = getattr(request.app.state, "services", None)
        if services is None:
            return None
        if path.startswith("/images/"):
            return await self._image_refusal(services, request, zh)
        openai = path.startswith("/v1/")
        if not ((api and path not in OPEN_API_PATHS) or path in DOCS_PATHS or openai):
            return None
        verdict = await authenticate(services, request)
        if verdict.ok:
            # Who the routes act for (app.api.deps.current_principal).
            request.state.principal = verdict.principal
            return None
        return self._refused(verdict, zh, openai=openai)

    @staticmethod
    def _refused(verdict: Verdict, zh: bool, *, openai: bool = False) -> Response:
        if verdict.retry_after:
            wait = int(verdict.retry_after) + 1
            message = f"密码错误次数过多，请在 {wait} 秒后再试。" if zh else f"Too many wrong passwords; try again in {wait} s."
            headers = {"Retry-After": str(wait)}
            if openai:
                return openai_error_response(429, message, "rate_limit_exceeded", headers=headers)
            return error_response(
                429, "rate_limited", message, details={"retry_after": verdict.retry_after}, headers=headers
            )
        if openai:
            return openai_error_response(
                401,
                "API 密钥无效、已吊销或缺失。" if zh else "Incorrect, revoked or missing API key (Authorization: Bearer vis_...).",
                "invalid_api_key",
            )
        response = error_response(
            401, "unauthorized", "请先登录。" if zh else "Sign in first (or send Authorization: Bearer <token>)."
        )
        if verdict.bad_cookie:
            response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
        return response

    async def _image_refusal(self, services: Services, request: Request, zh: bool) -> Response | None:
        """Images the backend serves itself (no nginx): the same rule as nginx's check."""
        status, verdict = await image_permission(services, request, request.url.path, request.query_params)
        if status == 204:
            return None
        if status == 404:
            return error_response(404, "not_found", "图片不存在。" if zh else "No such image.")
        return self._refused(verdict or Verdict(ok=False), zh)

    def _origin_allowed(self, origin: str, request: Request) -> bool:
        if origin in self.cors_origins:
            return True
        try:
            parts = urlsplit(origin)
            host = parts.hostname
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not host:
            return False
        if self.hosts.allows(host_of(f"[{host}]" if ":" in host else host), any_host=False):
            return True
        # ALLOWED_HOSTS=* gives up the Host check; a page may then still only write as itself.
        return self.hosts.any and parts.netloc.lower() == request.headers.get("host", "").lower()
