from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ProviderHealth(BaseModel):
    configured: bool


class HealthWarning(BaseModel):
    """Something the operator should fix, in both languages (the UI shows the one it speaks)."""

    code: str = Field(description="Stable identifier, e.g. no_app_password")
    message: str
    message_zh: str


class Health(BaseModel):
    status: Literal["healthy", "unhealthy"]
    version: str
    volcengine_configured: bool
    providers: dict[str, ProviderHealth]
    database: str
    storage: str
    disk_free_bytes: int | None
    auth_required: bool
    warnings: list[HealthWarning]


class HealthStatus(BaseModel):
    """What /health tells someone without a session when APP_PASSWORD is set."""

    status: Literal["healthy", "unhealthy"]
