"""Dependency aliases so route signatures read like a spec."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.core.config import Settings
from app.services.container import Services
from app.services.tasks import TaskService


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_settings(request: Request) -> Settings:
    return get_services(request).settings


def get_tasks(request: Request) -> TaskService:
    return get_services(request).tasks


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


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
TasksDep = Annotated[TaskService, Depends(get_tasks)]
ZhDep = Annotated[bool, Depends(prefers_zh)]
