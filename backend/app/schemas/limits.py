"""What the adaptive upstream limits learned (GET /api/v1/limits)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ProviderLimitPublic(BaseModel):
    provider: str
    initial: int = Field(description="Calls in flight each model starts with")
    maximum: int = Field(description="The most a model may grow to")
    images_per_minute: float | None = Field(description="Ark pacing, when the account's limit is configured")


class ModelLimitPublic(BaseModel):
    provider: str
    model: str
    limit: float = Field(description="The current limit of calls in flight (fractional while it grows)")
    slots: int = Field(description="Calls that may be in flight now")
    in_flight: int
    waiting: int = Field(description="Calls waiting for a place")
    slow_start: bool = Field(description="Still doubling: never throttled yet")
    ceiling: float | None = Field(description="The limit when the upstream last throttled: the account's limit as learned")
    successes: int
    throttles: int = Field(description="Calls the upstream throttled (429, 50429, 50430)")
    decreases: int = Field(description="Times the limit was cut")
    last_throttle_ago: float | None = Field(description="Seconds since the last throttled call")
    last_retry_after: float | None = Field(description="The last Retry-After the upstream asked for, seconds")
    paused_for: float = Field(description="Seconds new calls still wait for a Retry-After")


class LimitsReport(BaseModel):
    adaptive: bool
    providers: list[ProviderLimitPublic]
    models: list[ModelLimitPublic] = Field(description="Models called since start-up")
