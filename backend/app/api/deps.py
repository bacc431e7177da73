"""Dependency aliases so route signatures read like a spec."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request

from app.core.config import Settings
from app.core.errors import Forbidden
from app.services.container import Services
from app.services.tasks import TaskService
from app.services.users import Principal

T = TypeVar("T")


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_settings(request: Request) -> Settings:
    return get_services(request).settings


def get_tasks(request: Request) -> TaskService:
    return get_services(request).tasks


def current_principal(request: Request) -> Principal:
    """Who the request acts for, as app.api.access.AccessControl found it (every guarded path)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        # A route outside the guarded paths asked: nobody, not the admin.
        raise RuntimeError(f"no principal for {request.url.path}")
    return principal


def current_admin(request: Request) -> Principal:
    principal = current_principal(request)
    if not principal.is_admin:
        raise Forbidden("Only an admin may do this.", message_zh="只有管理员可以执行此操作。")
    return principal


def prefers_zh(request: Request) -> bool:
    """True when Accept-Language ranks Chinese above English (or names only Chinese)."""
    header = request.headers.get("accept-language", "")
    best_zh = best_en = -1.0
    for part in header.split(","):
        lang, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = lang.strip().lower()
        if lang.startswith("zh"):
            best_zh = max(best_zh, q)
        elif lang.startswith("en") or lang == "*":
            best_en = max(best_en, q)
    return best_zh > best_en


# FastAPI runs a plain ``def`` dependency in its thread pool: a thread hop per dependency per
# request, for functions that only read the request. The aliases use coroutine twins, called on
# the loop; the plain functions stay for callers outside FastAPI's injection.
def on_loop(read: Callable[[Request], T]) -> Callable[[Request], Awaitable[T]]:
    async def dependency(request: Request) -> T:
        return read(request)

    return dependency


services_dep = on_loop(get_services)
settings_dep = on_loop(get_settings)
tasks_dep = on_loop(get_tasks)
zh_dep = on_loop(prefers_zh)
principal_dep = on_loop(current_principal)
admin_dep = on_loop(current_admin)


ServicesDep = Annotated[Services, Depends(services_dep)]
SettingsDep = Annotated[Settings, Depends(settings_dep)]
TasksDep = Annotated[TaskService, Depends(tasks_dep)]
ZhDep = Annotated[bool, Depends(zh_dep)]
PrincipalDep = Annotated[Principal, Depends(principal_dep)]
AdminDep = Annotated[Principal, Depends(admin_dep)]
