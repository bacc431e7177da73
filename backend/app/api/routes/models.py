from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import ServicesDep
from app.schemas.catalog import ModelCatalog, ModelDuration, ModelDurations
from app.services.catalog import public_catalog
from app.services.durations import typical_durations

router = APIRouter(prefix="/api/v1", tags=["models"])


@router.get("/models", response_model=ModelCatalog)
async def list_models(services: ServicesDep) -> ModelCatalog:
    """The model catalogue: capabilities and size rules per model, and the default model."""
    return public_catalog(services.catalog)


@router.get("/models/durations", response_model=ModelDurations)
async def model_durations(services: ServicesDep) -> ModelDurations:
    """How long each model usually takes here: the median, start to end, of its last 50 completed
    tasks (models with none are absent)."""
    found = await typical_durations(services.db, [spec.id for spec in services.catalog.all()])
    return ModelDurations(
        items=[ModelDuration(model=d.model, median_seconds=d.median_seconds, samples=d.samples) for d in found]
    )
