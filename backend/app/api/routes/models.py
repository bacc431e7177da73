from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import ServicesDep
from app.schemas.catalog import ModelCatalog
from app.services.catalog import public_catalog

router = APIRouter(prefix="/api/v1", tags=["models"])


@router.get("/models", response_model=ModelCatalog)
async def list_models(services: ServicesDep) -> ModelCatalog:
    """The model catalogue: capabilities and size rules per model, and the default model."""
    return public_catalog(services.catalog)
