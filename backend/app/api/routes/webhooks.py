"""Webhook endpoints and their delivery log (Settings > Webhooks)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Response

from app.api.deps import ServicesDep, admin_dep
from app.models.webhook import Webhook, WebhookDelivery
from app.schemas.errors import ErrorResponse
from app.schemas.webhook import (
    DeliveryList,
    DeliveryPublic,
    WebhookCreated,
    WebhookIn,
    WebhookList,
    WebhookPublic,
    WebhookUpdate,
)

# The install's endpoints (they see every member's tasks): its admins only.
router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"], dependencies=[Depends(admin_dep)])
ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorResponse}, 404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}
}


def _public(hook: Webhook) -> WebhookPublic:
    return WebhookPublic(
        id=hook.id, url=hook.url, events=list(hook.events), description=hook.description, enabled=hook.enabled,
        created_at=hook.created_at,
    )


def _delivery(d: WebhookDelivery) -> DeliveryPublic:
    return DeliveryPublic(
        id=d.id, task_id=d.task_id, event=d.event, status=d.status,
        attempts=d.attempts, last_status=d.last_status, last_error=d.last_error,
        next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
        created_at=d.created_at, delivered_at=d.delivered_at,
    )


@router.get("", response_model=WebhookList)
async def list_webhooks(services: ServicesDep) -> WebhookList:
    """The endpoints (never their secrets)."""
    return WebhookList(items=[_public(h) for h in await services.webhooks.endpoints()])


@router.post("", status_code=201, response_model=WebhookCreated, responses=ERRORS)
async def create_webhook(body: WebhookIn, services: ServicesDep) -> WebhookCreated:
    """Add an endpoint; the answer carries its signing secret, this once."""
    hook, secret = await services.webhooks.create(body.url, body.events, body.description)
    return WebhookCreated(**_public(hook).model_dump(), secret=secret)


@router.patch("/{webhook_id}", response_model=WebhookPublic, responses=ERRORS)
async def update_webhook(webhook_id: str, body: WebhookUpdate, services: ServicesDep) -> WebhookPublic:
    return _public(await services.webhooks.set_enabled(webhook_id, body.enabled))


@router.delete("/{webhook_id}", status_code=204, responses=ERRORS)
async def delete_webhook(webhook_id: str, services: ServicesDep) -> Response:
    await services.webhooks.delete(webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryList, responses=ERRORS)
async def list_deliveries(
    webhook_id: str, services: ServicesDep, limit: int = Query(default=50, ge=1, le=200)
) -> DeliveryList:
    """The latest deliveries, newest first: status, attempts, the last answer or error."""
    return DeliveryList(items=[_delivery(d) for d in await services.webhooks.deliveries(webhook_id, limit)])
