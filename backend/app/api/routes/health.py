from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app import __version__
from app.api.deps import ServicesDep
from app.schemas.health import Health, HealthWarning, ProviderHealth

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(services: ServicesDep) -> JSONResponse:
    settings = services.settings
    database = "ok"
    try:
        await asyncio.wait_for(services.db.ping(), timeout=5)
    except Exception as exc:  # any failure to reach the DB makes us unhealthy
        database = f"error: {type(exc).__name__}"
    storage_problem = await asyncio.to_thread(services.store.check_writable)
    try:
        free = await asyncio.to_thread(services.store.free_bytes)
    except OSError:
        free = None
    storage = storage_problem or "ok"
    if storage_problem is None and free is not None and free < int(settings.min_free_disk_mb * 1024 * 1024):
        storage = f"low disk space: {free // (1024 * 1024)} MB free"
    warnings: list[HealthWarning] = []
    configured = settings.ark_configured or settings.visual_configured
    if configured and not services.auth.required:
        warnings.append(
            HealthWarning(
                code="no_app_password",
                message="Volcengine credentials are configured but APP_PASSWORD is not set: anyone who can "
                "reach this port can spend the account's credit.",
                message_zh="已配置火山引擎凭证，但没有设置 APP_PASSWORD：任何能访问此端口的人都能花费账户的余额。",
            )
        )
    body = Health(
        status="healthy" if database == "ok" and storage == "ok" else "unhealthy",
        version=__version__,
        volcengine_configured=configured,
        providers={
            "ark": ProviderHealth(configured=settings.ark_configured),
            "visual": ProviderHealth(configured=settings.visual_configured),
            "demo": ProviderHealth(configured=True),
        },
        database=database,
        storage=storage,
        disk_free_bytes=free,
        auth_required=services.auth.required,
        warnings=warnings,
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if body.status == "healthy" else 503)
