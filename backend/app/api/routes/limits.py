from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from app.api.deps import ServicesDep
from app.schemas.limits import LimitsReport, ModelLimitPublic, ProviderLimitPublic

router = APIRouter(prefix="/api/v1", tags=["limits"])


@router.get("/limits", response_model=LimitsReport)
async def get_limits(services: ServicesDep) -> LimitsReport:
    """Upstream calls in flight per model: the current adaptive limit and what it learned."""
    limits = services.limits
    return LimitsReport(
        adaptive=services.settings.adaptive_concurrency,
        providers=[
            ProviderLimitPublic(
                provider=name, initial=c.initial, maximum=c.maximum, images_per_minute=c.images_per_minute
            )
            for name, c in limits.configured().items()
        ],
        models=[
            ModelLimitPublic(**{k: v for k, v in asdict(s).items() if k in ModelLimitPublic.model_fields})
            for s in limits.snapshot()
        ],
    )
