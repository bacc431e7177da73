"""The shape of a catalogue file (``models.toml`` and the user's ``MODELS_FILE``), checked by pydantic.

Every table forbids unknown keys, so a misspelt field is an error naming it rather than a rule
silently ignored. ``to_spec`` turns a checked entry into the frozen ``ModelSpec`` the app uses.
"""

from __future__ import annotations

import re
from datetime import date
from fractions import Fraction
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, model_validator

from app.providers.catalog.specs import (
    ARK_REF_FORMATS,
    JPEG_PNG,
    MAX_INDEPENDENT_IMAGES,
    Capability,
    EditOperation,
    EditOperationName,
    FixedValue,
    GroupRules,
    ModelSpec,
    ModelStatus,
    OutputFormat,
    ParamRange,
    PriceUnit,
    PromptRule,
    ProviderName,
    ReferenceRules,
    SizePreset,
    SizeRules,
    UpscaleResolution,
    VisualCall,
)

_RATIO_RE = re.compile(r"^\s*(\d{1,5})\s*:\s*(\d{1,5})\s*$")
_WXH_RE = re.compile(r"^\d{1,6}x\d{1,6}$")
_FORMATS = {"jpeg", "png", "webp", "bmp", "tiff", "gif"}
_ID_RE = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"

Positive = Annotated[int, Field(gt=0)]


def _check_ratio(value: str) -> str:
    _ratio(value)
    return value


# "W:H", exact: "1:16", "16:1".
Ratio = Annotated[str, AfterValidator(_check_ratio)]


def _check_formats(value: list[str] | None) -> list[str] | None:
    unknown = sorted(set(value or ()) - _FORMATS)
    if unknown:
        raise ValueError(f"unknown image formats {unknown}; use {sorted(_FORMATS)}")
    return value


# Image formats by short name ("jpeg", "png", ...); None = the provider's defaults.
Formats = Annotated[list[str] | None, AfterValidator(_check_formats)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _ratio(value: str | None) -> Fraction | None:
    if value is None:
        return None
    match = _RATIO_RE.match(value)
    if match is None or int(match.group(1)) == 0 or int(match.group(2)) == 0:
        raise ValueError(f"{value!r} is not a ratio like \"1:16\"")
    return Fraction(int(match.group(1)), int(match.group(2)))


class Localized(_Strict):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class PresetEntry(_Strict):
    label: str = Field(min_length=1, max_length=40)
    width: Positive
    height: Positive


class RangeEntry(_Strict):
    min: float
    max: float
    default: float

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.min <= self.default <= self.max:
            raise ValueError("needs min <= default <= max")
        return self


class SizesEntry(_Strict):
    # Named levels the upstream understands ("2K", "adaptive"), sent as written.
    levels: list[str] = []
    custom: bool = True
    min_pixels: Positive | None = None
    max_pixels: Positive | None = None
    min_side: Positive | None = None
    max_side: Positive | None = None
    min_aspect: Ratio | None = None
    max_aspect: Ratio | None = None
    # Names of shared ``[preset_sets]``, listed before ``presets``.
    preset_sets: list[str] = []
    presets: list[PresetEntry] = []
    default: str
    min_pixels_example: str | None = None
    # Pixel area of each named level, for upstreams that take an area.
    level_pixels: dict[str, Positive] = {}

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.min_pixels and self.max_pixels and self.min_pixels > self.max_pixels:
            raise ValueError("min_pixels is larger than max_pixels")
        if self.min_side and self.max_side and self.min_side > self.max_side:
            raise ValueError("min_side is larger than max_side")
        lo, hi = _ratio(self.min_aspect), _ratio(self.max_aspect)
        if lo is not None and hi is not None and lo > hi:
            raise ValueError("min_aspect is wider than max_aspect")
        if not self.levels and not self.custom:
            raise ValueError("a model needs size levels or custom sizes")
        is_level = self.default.lower() in {level.lower() for level in self.levels}
        if not is_level and not (self.custom and _WXH_RE.match(self.default)):
            raise ValueError(f"default {self.default!r} is neither one of the levels nor a WxH size")
        return self


class ReferencesEntry(_Strict):
    min: int = Field(default=0, ge=0)
    max: int = Field(default=0, ge=0, le=15)
    formats: Formats = None
    min_side: Positive = 15
    # Upper limits: absent or 0 = none (TOML has no null, and an override may lift a limit).
    max_side: int | None = Field(default=None, ge=0)
    max_pixels: int | None = Field(default=None, ge=0)
    max_mb: float | None = Field(default=None, ge=0)
    min_aspect: Ratio | None = None
    max_aspect: Ratio | None = None


    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise ValueError("min is larger than max")
        return self


class OptionsEntry(_Strict):
    seed: bool = False
    guidance_scale: RangeEntry | None = None
    strength: RangeEntry | None = None
    negative_prompt: bool = False
    watermark: bool = False
    optimize_prompt: list[Literal["standard", "fast"]] = []
    output_formats: list[OutputFormat] = []
    web_search: bool = False
    layer_decomposition: bool = False
    streaming: bool = False
    max_num_images: int = Field(default=MAX_INDEPENDENT_IMAGES, ge=1, le=MAX_INDEPENDENT_IMAGES)


class GroupEntry(_Strict):
    max_images: int = Field(ge=1, le=15)
    # Cap on references + generated images; 0 = only max_images applies.
    max_total: int = Field(default=15, ge=0, le=15)


class VisualEntry(_Strict):
    # Defaults to the model id, which is the req_key for Visual models.
    req_key: str | None = None
    sync: bool = False
    strength_param: str | None = None
    strength_percent: bool = False
    guidance_param: str | None = None
    pre_llm: bool = False
    force_single: bool = False
    size_as_area: bool = False
    fixed: dict[str, FixedValue] = {}


class EditEntry(_Strict):
    operation: EditOperationName
    req_key: str = Field(min_length=1)
    checked_on: date | None = None
    source: HttpUrl | Literal["reported", "builtin"] | None = None
    notes: str = ""
    prompt: PromptRule | None = None
    fixed_prompt: str | None = Field(default=None, min_length=1, max_length=200)
    prompt_max_length: int = Field(default=800, ge=1, le=100_000)
    formats: Formats = None
    min_side: Positive = 15
    # Upper limits: absent or 0 = none.
    max_side: int | None = Field(default=None, ge=0)
    max_mb: float | None = Field(default=None, ge=0)
    max_expand: float = Field(default=1.0, gt=0, le=10)
    min_aspect: Ratio | None = None
    max_aspect: Ratio | None = None
    # Upscale: {"4k" = 4096, "8k" = 8192}: the long side of each target.
    resolutions: dict[UpscaleResolution, Positive] = {}


    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.operation == "upscale" and not self.resolutions:
            raise ValueError("an upscale needs resolutions (e.g. {\"4k\" = 4096})")
        if self.operation != "upscale" and self.resolutions:
            raise ValueError("resolutions only apply to upscale")
        if self.operation == "upscale" and self.prompt not in (None, "none"):
            raise ValueError("an upscale takes no prompt")
        if self.operation == "inpaint" and self.prompt == "none":
            raise ValueError("an inpaint needs its prompt")
        lo, hi = _ratio(self.min_aspect), _ratio(self.max_aspect)
        if lo is not None and hi is not None and lo > hi:
            raise ValueError("min_aspect is wider than max_aspect")
        return self

    def to_operation(self, model: ModelEntry) -> EditOperation:
        """The frozen rules; an entry without its own date or source has its model's."""
        default_prompt: PromptRule = {"inpaint": "required", "upscale": "none"}.get(self.operation, "optional")  # type: ignore[assignment]
        return EditOperation(
            name=self.operation,
            req_key=self.req_key,
            prompt=self.prompt or default_prompt,
            fixed_prompt=self.fixed_prompt,
            prompt_max_length=self.prompt_max_length,
            content_types=tuple(f"image/{fmt}" for fmt in self.formats) if self.formats is not None else JPEG_PNG,
            min_side=self.min_side,
            max_side=self.max_side or None,
            max_bytes=int(self.max_mb * 1024 * 1024) if self.max_mb else None,
            max_expand=self.max_expand,
            min_aspect=_ratio(self.min_aspect),
            max_aspect=_ratio(self.max_aspect),
            resolutions=tuple(sorted(self.resolutions.items(), key=lambda item: item[1])),
            checked_on=(self.checked_on or model.checked_on).isoformat(),
            source=str(self.source or model.source),
            notes=self.notes,
        )


class ModelEntry(_Strict):
    id: str = Field(pattern=_ID_RE)
    provider: ProviderName
    status: ModelStatus = "active"
    checked_on: date
    source: HttpUrl | Literal["reported", "builtin"]
    notes: str = ""
    label: Localized
    description: Localized
    # Empty only for a model that does nothing but edits.
    capabilities: list[Capability] = []
    prompt_max_length: int = Field(default=4000, ge=1, le=100_000)
    price_unit: PriceUnit = "image"
    sizes: SizesEntry
    references: ReferencesEntry = ReferencesEntry()
    options: OptionsEntry = OptionsEntry()
    group: GroupEntry | None = None
    visual: VisualEntry | None = None
    edit: list[EditEntry] = []

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        caps = set(self.capabilities)
        if not caps and not self.edit:
            raise ValueError("a model needs capabilities or [[edit]] operations")
        operations = [e.operation for e in self.edit]
        if len(set(operations)) != len(operations):
            raise ValueError("an edit operation is listed twice")
        if "image2image" in caps and self.references.max < 1:
            raise ValueError("image2image needs references.max of at least 1")
        if ("group" in caps) != (self.group is not None):
            raise ValueError("the group capability and the [group] table go together")
        if self.visual is not None and self.provider != "visual":
            raise ValueError("a [visual] table only applies to provider \"visual\"")
        if self.provider == "visual" and self.visual is None:
            raise ValueError("a Visual model needs a [visual] table (at least sync = true/false)")
        if self.edit and self.provider == "ark":
            raise ValueError("edit operations are Visual req_keys (or the demo's): provider must not be \"ark\"")
        if self.options.web_search and self.provider != "ark":
            raise ValueError("web_search is an Ark tool: provider must be \"ark\"")
        if self.options.layer_decomposition and self.provider not in ("ark", "demo"):
            raise ValueError("layer_decomposition is an Ark option: provider must be \"ark\" (or \"demo\")")
        return self


class CatalogFile(_Strict):
    """A whole file: shared preset sets and the models (a user file may hold only some fields of a
    model it overrides; those are merged before this schema sees them)."""

    preset_sets: dict[str, list[PresetEntry]] = {}
    models: list[ModelEntry] = []


def to_spec(entry: ModelEntry, preset_sets: dict[str, list[PresetEntry]], *, user_defined: bool) -> ModelSpec:
    """The frozen rules the app uses, from one checked entry. ``preset_sets`` was checked to
    contain every set the entry names."""
    sizes, refs, opts = entry.sizes, entry.references, entry.options
    presets = [p for name in sizes.preset_sets for p in preset_sets[name]] + list(sizes.presets)
    formats = refs.formats
    content_types = (
        tuple(f"image/{fmt}" for fmt in formats) if formats is not None
        else ARK_REF_FORMATS if entry.provider == "ark" and refs.max > 1 else JPEG_PNG
    )
    visual = None
    if entry.visual is not None:
        v = entry.visual
        visual = VisualCall(
            req_key=v.req_key or entry.id,
            sync=v.sync,
            action="CVProcess" if v.sync else "CVSync2AsyncSubmitTask",
            result_action=None if v.sync else "CVSync2AsyncGetResult",
            strength_param=v.strength_param,
            strength_percent=v.strength_percent,
            guidance_param=v.guidance_param,
            pre_llm=v.pre_llm,
            force_single=v.force_single,
            size_as_area=v.size_as_area,
            fixed=tuple(v.fixed.items()),
        )
    return ModelSpec(
        id=entry.id,
        provider=entry.provider,
        label_zh=entry.label.zh,
        label_en=entry.label.en,
        description_zh=entry.description.zh,
        description_en=entry.description.en,
        modes=frozenset(entry.capabilities),
        refs=ReferenceRules(
            min_count=refs.min,
            max_count=refs.max,
            content_types=content_types,
            min_side=refs.min_side,
            max_side=refs.max_side or None,
            max_pixels=refs.max_pixels or None,
            max_bytes=int(refs.max_mb * 1024 * 1024) if refs.max_mb else None,
            min_aspect=_ratio(refs.min_aspect),
            max_aspect=_ratio(refs.max_aspect),
        ),
        sizes=SizeRules(
            levels=tuple(sizes.levels),
            allow_custom_wh=sizes.custom,
            min_pixels=sizes.min_pixels,
            max_pixels=sizes.max_pixels,
            min_side=sizes.min_side,
            max_side=sizes.max_side,
            min_aspect=_ratio(sizes.min_aspect),
            max_aspect=_ratio(sizes.max_aspect),
            presets=tuple(SizePreset(p.label, p.width, p.height) for p in presets),
            default=sizes.default,
            min_pixels_example=sizes.min_pixels_example,
            level_pixels=tuple((level.upper(), area) for level, area in sizes.level_pixels.items()),
        ),
        seed=opts.seed,
        guidance_scale=_range(opts.guidance_scale),
        strength=_range(opts.strength),
        negative_prompt=opts.negative_prompt,
        watermark=opts.watermark,
        optimize_prompt=tuple(opts.optimize_prompt),
        max_num_images=opts.max_num_images,
        group=None if entry.group is None else GroupRules(
            max_images=entry.group.max_images, max_total=entry.group.max_total or None
        ),
        streaming=opts.streaming,
        prompt_max_length=entry.prompt_max_length,
        visual=visual,
        status=entry.status,
        checked_on=entry.checked_on.isoformat(),
        source=str(entry.source),
        output_formats=tuple(opts.output_formats),
        web_search=opts.web_search,
        layer_decomposition=opts.layer_decomposition,
        edit_operations=tuple(e.to_operation(entry) for e in entry.edit),
        price_unit=entry.price_unit,
        user_defined=user_defined,
    )


def _range(value: RangeEntry | None) -> ParamRange | None:
    return None if value is None else ParamRange(value.min, value.max, value.default)
