from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app import __version__
from app.api.deps import ServicesDep
from app.api.requests import authenticate
from app.schemas.health import Health, HealthStatus, ProviderHealth

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health | HealthStatus, responses={503: {"model": Health | HealthStatus}})
async def health(services: ServicesDep, request: Request) -> JSONResponse:
    """The detail only without APP_PASSWORD or with a session; otherwise just the status (and its
    HTTP status, which container health checks read)."""
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
    warnings: list[str] = []
    configured = settings.ark_configured or settings.visual_configured
    if configured and not services.auth.required:
        warnings.append(
            "Volcengine credentials are configured but APP_PASSWORD is not set: anyone who can reach "
            "this port can spend the account's credit."
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
    code = 200 if body.status == "healthy" else 503
    if services.auth.required and not (await authenticate(services, request)).ok:
        return JSONResponse(HealthStatus(status=body.status).model_dump(mode="json"), status_code=code)
    return JSONResponse(body.model_dump(mode="json"), status_code=code)
