"""The vocabulary of the model catalogue: frozen rules that say what each model accepts.

The data lives in ``models.toml`` (read by ``files``, shaped by ``schema``), lookup in ``lookup``,
and the one place a request is checked against these rules in ``validation`` (all in
``app.providers.catalog``).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

ProviderName = Literal["ark", "visual", "demo"]
Capability = Literal["text2image", "image2image", "group"]
ModelStatus = Literal["active", "retired"]
# Edits of an existing image, each its own upstream call (Visual req_key).
EditOperationName = Literal["inpaint", "erase", "outpaint", "upscale"]
OutputFormat = Literal["jpeg", "png"]
PriceUnit = Literal["image", "call"]
FixedValue = str | int | float | bool
# In the order the UI lists them.
CAPABILITIES: tuple[Capability, ...] = ("text2image", "image2image", "group")

DEMO_MODEL_ID = "demo"
ARK_DEFAULT_MODEL_ID = "doubao-seedream-4-0-250828"
VISUAL_DEFAULT_MODEL_ID = "jimeng_t2i_v30"

# Ark and Visual share one hard cap for groups: reference images + generated images <= 15.
GROUP_TOTAL_LIMIT = 15
MAX_INDEPENDENT_IMAGES = 4

ARK_REF_FORMATS = ("image/jpeg", "image/png", "image/webp", "image/bmp", "image/tiff", "image/gif")
JPEG_PNG = ("image/jpeg", "image/png")


@dataclass(frozen=True, slots=True)
class SizePreset:
    label: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class SizeRules:
    # Named levels the upstream understands ("2K", "adaptive", ...), upper/lower case as sent.
    levels: tuple[str, ...] = ()
    allow_custom_wh: bool = True
    min_pixels: int | None = None
    max_pixels: int | None = None
    min_side: int | None = None
    max_side: int | None = None
    # W/H bounds, exact fractions so 1:3 is not a rounding question.
    min_aspect: Fraction | None = None
    max_aspect: Fraction | None = None
    presets: tuple[SizePreset, ...] = ()
    # "WxH" or a named level; what a request without any size gets.
    default: str = "1024x1024"
    # A size just above ``min_pixels``, quoted in error messages.
    min_pixels_example: str | None = None
    # Total pixels a named level stands for, for upstreams that take an area (Jimeng 4.0 ``size``).
    level_pixels: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class ReferenceRules:
    # Count in image-to-image mode; text-to-image never takes references.
    min_count: int = 0
    max_count: int = 0
    content_types: tuple[str, ...] = JPEG_PNG
    min_side: int = 15  # Ark: "width and height > 14 px"
    max_side: int | None = None
    max_pixels: int | None = 36_000_000
    max_bytes: int | None = 10 * 1024 * 1024
    min_aspect: Fraction | None = None
    max_aspect: Fraction | None = None


@dataclass(frozen=True, slots=True)
class ParamRange:
    min: float
    max: float
    default: float


@dataclass(frozen=True, slots=True)
class GroupRules:
    max_images: int
    # Cap on references + generated images; None when only ``max_images`` applies.
    max_total: int | None = GROUP_TOTAL_LIMIT


@dataclass(frozen=True, slots=True)
class VisualCall:
    """How one Visual req_key wants its body, so a model added as data needs no code."""

    req_key: str
    # Sync models answer in one CVProcess call; async ones submit then poll.
    sync: bool
    action: str
    result_action: str | None
    version: str = "2022-08-31"
    # Body field that carries the request's strength / guidance scale, if the model takes one.
    strength_param: str | None = None
    # Strength is 0-1 in our API; some models want an integer percentage (Jimeng 4.6: 1-100).
    strength_percent: bool = False
    guidance_param: str | None = None
    # Sends ``use_pre_llm`` (prompt expansion) as a boolean.
    pre_llm: bool = False
    # Sends ``force_single`` (one image unless a group was asked for).
    force_single: bool = False
    # Sends a named size level as ``size`` = its pixel area (``SizeRules.level_pixels``).
    size_as_area: bool = False
    # Constant body fields (legacy model_version and the like).
    fixed: tuple[tuple[str, FixedValue], ...] = ()


# Every edit operation, in the order the UI lists them.
EDIT_OPERATIONS: tuple[EditOperationName, ...] = ("inpaint", "erase", "outpaint", "upscale")
# Whether an operation takes a prompt: inpaint needs one (what to paint), erase sends the
# upstream's fixed removal prompt, outpaint may describe the new area, upscale takes none.
PromptRule = Literal["required", "optional", "none"]
UpscaleResolution = Literal["4k", "8k"]


@dataclass(frozen=True, slots=True)
class EditOperation:
    """One edit of an existing image, as its own upstream call, with that call's input limits."""

    name: EditOperationName
    req_key: str
    prompt: PromptRule = "optional"
    # Sent instead of the user's prompt (erase: the documented "删除").
    fixed_prompt: str | None = None
    prompt_max_length: int = 800
    # Source (and mask) limits; None = not checked here.
    content_types: tuple[str, ...] = JPEG_PNG
    max_side: int | None = None
    max_bytes: int | None = None
    min_side: int = 15
    # Outpaint: the largest ratio of the source's side one edge may grow by.
    max_expand: float = 1.0
    # Outpaint: the widest / tallest canvas, as W/H.
    min_aspect: Fraction | None = None
    max_aspect: Fraction | None = None
    # Upscale: target resolutions, and the long side each stands for.
    resolutions: tuple[tuple[UpscaleResolution, int], ...] = ()
    checked_on: str = ""
    source: str = ""
    notes: str = ""

    @property
    def takes_mask(self) -> bool:
        return self.name in ("inpaint", "erase")


@dataclass(frozen=True, slots=True)
class ModelSpec:
    id: str
    provider: ProviderName
    label_zh: str
    label_en: str
    description_zh: str
    description_en: str
    modes: frozenset[Capability]
    refs: ReferenceRules
    sizes: SizeRules
    seed: bool = False
    guidance_scale: ParamRange | None = None
    strength: ParamRange | None = None
    negative_prompt: bool = False
    watermark: bool = False
    optimize_prompt: tuple[str, ...] = ()
    max_num_images: int = MAX_INDEPENDENT_IMAGES
    group: GroupRules | None = None
    streaming: bool = False
    prompt_max_length: int = 4000
    # Parallel jobs the upstream tolerates for this model; None = only the global cap applies.
    max_concurrency: int | None = None
    visual: VisualCall | None = None
    # Listed by the user in ARK_EXTRA_MODELS rather than known to us.
    extra: bool = False
    # Retired upstream: still callable, shown with a badge until the upstream turns it off.
    status: ModelStatus = "active"
    # When and where the rules above were last checked against the upstream's documentation.
    checked_on: str = ""
    source: str = ""
    # Output formats the caller may choose; empty = the upstream's fixed format (JPEG).
    output_formats: tuple[OutputFormat, ...] = ()
    web_search: bool = False
    layer_decomposition: bool = False
    edit_operations: tuple[EditOperation, ...] = ()
    price_unit: PriceUnit = "image"
    # Came from the user's MODELS_FILE (added or overridden there).
    user_defined: bool = False

    def supports(self, capability: Capability) -> bool:
        return capability in self.modes

    def edit_operation(self, name: str) -> EditOperation | None:
        return next((op for op in self.edit_operations if op.name == name), None)

