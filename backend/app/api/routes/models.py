from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.api.deps import ServicesDep

router = APIRouter(prefix="/api/v1", tags=["models"])


@router.get("/models")
async def list_models(services: ServicesDep) -> dict[str, Any]:
    """The model catalogue: capabilities and size rules per model, and the default model."""
    return services.catalog.to_public()
