from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.api.deps import ServicesDep
from app.api.requests import authenticate
from app.schemas.health import Health, HealthStatus

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health | HealthStatus, responses={503: {"model": Health | HealthStatus}})
async def health(services: ServicesDep, request: Request) -> JSONResponse:
    """The detail only without APP_PASSWORD or with a session; otherwise just the status (and its
    HTTP status, which container health checks read)."""
    body = await services.health.report()
    code = 200 if body.status == "healthy" else 503
    if services.auth.required and not (await authenticate(services, request)).ok:
        return JSONResponse(HealthStatus(status=body.status).model_dump(mode="json"), status_code=code)
    return JSONResponse(body.model_dump(mode="json"), status_code=code)
