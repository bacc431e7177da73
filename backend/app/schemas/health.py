from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class ProviderHealth(BaseModel):
    configured: bool


class Health(BaseModel):
    status: Literal["healthy", "unhealthy"]
    version: str
    volcengine_configured: bool
    providers: dict[str, ProviderHealth]
    database: str
    storage: str
    disk_free_bytes: int | None
    auth_required: bool
    warnings: list[str]


class HealthStatus(BaseModel):
    """What /health tells someone without a session when APP_PASSWORD is set."""

    status: Literal["healthy", "unhealthy"]
