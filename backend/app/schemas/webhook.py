from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

WebhookEvent = Literal["task.completed", "task.failed"]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str = Field(min_length=1, max_length=2000, description="http(s) URL on a host of WEBHOOK_HOSTS")
    events: list[WebhookEvent] = Field(default=["task.completed", "task.failed"], min_length=1)
    description: str = Field(default="", max_length=200)


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool


class WebhookPublic(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str
    enabled: bool
    created_at: datetime


class WebhookCreated(WebhookPublic):
    secret: str = Field(description="The signing secret, shown this once: X-Studio-Signature is its HMAC-SHA256")


class WebhookList(BaseModel):
    items: list[WebhookPublic]


class DeliveryPublic(BaseModel):
    id: str
    task_id: str
    event: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: datetime | None = Field(description="When it is tried again (pending only)")
    created_at: datetime
    delivered_at: datetime | None


class DeliveryList(BaseModel):
    items: list[DeliveryPublic]
