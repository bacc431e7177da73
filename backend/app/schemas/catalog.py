"""Public shape of the model catalogue (``GET /api/v1/models``), built by ``app.services.catalog``."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.providers.catalog.specs import (
    Capability,
    EditOperationName,
    ModelStatus,
    OutputFormat,
    PriceUnit,
    PromptRule,
    ProviderName,
    UpscaleResolution,
)


class Localized(BaseModel):
    zh: str
    en: str


class ReferenceRulesPublic(BaseModel):
    min: int
    max: int
    content_types: list[str]
    min_side: int | None
    max_side: int | None
    max_pixels: int | None
    max_bytes: int | None
    min_aspect: float | None
    max_aspect: float | None


class SizePresetPublic(BaseModel):
    label: str
    width: int
    height: int


class SizeRulesPublic(BaseModel):
    levels: list[str]
    allow_custom: bool
    min_pixels: int | None
    max_pixels: int | None
    min_side: int | None
    max_side: int | None
    min_aspect: float | None
    max_aspect: float | None
    presets: list[SizePresetPublic]
    default: str


class RangePublic(BaseModel):
    min: float
    max: float
    default: float


class GroupPublic(BaseModel):
    max_images: int
    max_total: int | None


class ParamsPublic(BaseModel):
    seed: bool
    guidance_scale: RangePublic | None
    strength: RangePublic | None
    negative_prompt: bool
    watermark: bool
    optimize_prompt: list[str]
    num_images_max: int
    group: GroupPublic | None
    streaming: bool
    # Formats the caller may pick with output_format; empty = fixed (JPEG).
    output_formats: list[OutputFormat] = []
    # Takes web_search: true (Ark's web-search tool; its searches are billed on their own).
    web_search: bool = False
    layer_decomposition: bool = False


class EditOperationPublic(BaseModel):
    """One edit a model offers (POST /api/v1/edit/{operation}) and the rules its form follows."""

    operation: EditOperationName
    req_key: str
    prompt: PromptRule = Field(description="required (inpaint), optional (outpaint) or none (erase, upscale)")
    prompt_max_length: int
    mask: bool = Field(description="Takes a mask (inpaint, erase)")
    formats: list[str] = Field(description="Source types sent as they are; others are re-encoded as JPEG")
    min_side: int
    max_side: int | None = Field(description="Largest source side in pixels; null = not checked here")
    max_bytes: int | None = Field(description="Largest source the upstream takes (bigger ones are sent as JPEG)")
    max_expand: float | None = Field(description="Outpaint: the most one edge grows, as a ratio of the source's side")
    min_aspect: float | None = Field(description="Outpaint: the narrowest canvas (W/H)")
    max_aspect: float | None = Field(description="Outpaint: the widest canvas (W/H)")
    resolutions: list[UpscaleTargetPublic] = Field(description="Upscale: the targets and their long side")
    provenance: ProvenancePublic
    notes: str = ""


class UpscaleTargetPublic(BaseModel):
    resolution: UpscaleResolution
    long_side: int


class ProvenancePublic(BaseModel):
    # When the rules were last checked against the upstream's documentation, and where.
    checked_on: str
    source: str


class ModelPublic(BaseModel):
    id: str
    provider: ProviderName
    label: Localized
    description: Localized
    modes: list[Capability]
    available: bool
    unavailable_reason: Localized | None
    references: ReferenceRulesPublic
    size: SizeRulesPublic
    params: ParamsPublic
    prompt_max_length: int
    max_concurrency: int | None
    sync: bool
    extra: bool
    # "retired": the upstream is turning it off; it still works until then.
    status: ModelStatus = "active"
    edit_operations: list[EditOperationPublic] = []
    price_unit: PriceUnit = "image"
    provenance: ProvenancePublic
    # Added or changed by this server's MODELS_FILE.
    user_defined: bool = False


class ModelCatalog(BaseModel):
    default_model: str
    models: list[ModelPublic]


class ModelDuration(BaseModel):
    model: str
    median_seconds: float
    samples: int


class ModelDurations(BaseModel):
    """Models this install has completed tasks for; a model without any is absent."""

    items: list[ModelDuration]
