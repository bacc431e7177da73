"""Request bodies of the generation endpoints.

These only check shapes and absolute bounds; whether a field is allowed for the chosen model is
decided in one place, ``app.providers.catalog.validation.validate_request``, which takes the
transport-free ``GenerationInput`` these bodies turn into with ``to_input()``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.models.task import TaskStatus
from app.providers.catalog.validation import GenerationInput


def clean_prompt(value: str | None) -> str | None:
    """A prompt as stored: no NUL, one Unicode spelling."""
    if value is None:
        return None
    # No database stores it the same way (PostgreSQL refuses it in text), and no prompt needs it.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    # One spelling per text (macOS/iOS keyboards send NFD): history search compares as stored.
    return unicodedata.normalize("NFC", value)


class GroupOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_images: int = Field(ge=1, le=15)


class GenerateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    model: str | None = Field(default=None, max_length=200, description="Model id; the default model when omitted")
    prompt: str = Field(min_length=1, max_length=4000)
    negative_prompt: str | None = Field(default=None, max_length=2000)
    size: str | None = Field(
        default=None,
        max_length=20,
        description='Named level ("1K", "2K", "4K", "adaptive") or "<W>x<H>"',
    )
    width: int | None = Field(default=None, ge=1, le=16384)
    height: int | None = Field(default=None, ge=1, le=16384)
    seed: int | None = Field(default=None, ge=-1, le=2_147_483_647)
    guidance_scale: float | None = Field(default=None, ge=0, le=20)
    num_images: int = Field(default=1, ge=1, le=4)
    group: GroupOptions | None = None
    watermark: bool = False
    optimize_prompt: bool | Literal["standard", "fast"] | None = None
    style_preset: str | None = Field(default=None, max_length=100)
    output_format: Literal["jpeg", "png"] | None = Field(
        default=None, description="Output image format, for models that offer a choice (see GET /models)"
    )
    web_search: bool = Field(
        default=False, description="Let the model search the web first (models with params.web_search); searches are billed"
    )
    layer_decomposition: bool = Field(
        default=False,
        description="Return each image as a layered set: the base image plus transparent PNG layers with "
        "z-index, bounding box, name and description (models with params.layer_decomposition)",
    )

    @field_validator("prompt", "negative_prompt")
    @classmethod
    def _nfc(cls, value: str | None) -> str | None:
        return clean_prompt(value)

    def to_input(self) -> GenerationInput:
        return GenerationInput(
            prompt=self.prompt,
            negative_prompt=self.negative_prompt,
            size=self.size,
            width=self.width,
            height=self.height,
            seed=self.seed,
            guidance_scale=self.guidance_scale,
            num_images=self.num_images,
            group_max_images=self.group.max_images if self.group is not None else None,
            watermark=self.watermark,
            optimize_prompt=self.optimize_prompt,
            style_preset=self.style_preset,
            output_format=self.output_format,
            web_search=self.web_search,
            layer_decomposition=self.layer_decomposition,
        )


class Image2ImageIn(GenerateIn):
    images: list[str] = Field(
        default_factory=list,
        max_length=14,
        description="Reference images: upload ids from /api/v1/uploads or data: URIs",
    )
    strength: float | None = Field(default=None, ge=0, le=1)
    scale: float | None = Field(default=None, ge=0, le=10, description="Alias of strength used by the original app")

    def to_input(self) -> GenerationInput:
        return replace(super().to_input(), strength=self.strength, scale=self.scale)


class TaskCreated(BaseModel):
    task_id: str
    status: TaskStatus
    message: str
    created_at: datetime
