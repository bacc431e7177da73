"""The model catalogue, as data, and the one place a request is checked against its model.

Every model is a frozen ``ModelSpec``; the UI adapts its form from ``Catalog.to_public()`` and the
API refuses a request with ``validate_request`` before anything is queued. Capabilities come from
``shared/volcengine-api.md`` sections 1.2-1.5 (Ark) and 2.2-2.3 (Visual). Where the reference marks
a limit as unverified we validate leniently and let the upstream have the last word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any, Literal

from app.core.config import Settings
from app.core.errors import InvalidRequest, ModelUnavailable
from app.providers.base import GenerationRequest, Mode, ReferenceImage
from app.schemas.generation import GenerateIn

ProviderName = Literal["ark", "visual", "demo"]
Capability = Literal["text2image", "image2image", "group"]

DEMO_MODEL_ID = "demo"
ARK_DEFAULT_MODEL_ID = "doubao-seedream-4-0-250828"
VISUAL_DEFAULT_MODEL_ID = "jimeng_t2i_v30"

# Ark and Visual share one hard cap for groups: reference images + generated images <= 15.
GROUP_TOTAL_LIMIT = 15
MAX_INDEPENDENT_IMAGES = 4

ARK_REF_FORMATS = ("image/jpeg", "image/png", "image/webp", "image/bmp", "image/tiff", "image/gif")
JPEG_PNG = ("image/jpeg", "image/png")


# --------------------------------------------------------------------------------------------
# Spec types


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
    req_key: str
    # Sync models answer in one CVProcess call; async ones submit then poll.
    sync: bool
    action: str
    result_action: str | None
    version: str = "2022-08-31"


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

    def supports(self, capability: Capability) -> bool:
        return capability in self.modes


# --------------------------------------------------------------------------------------------
# The models

ASPECT_16 = (Fraction(1, 16), Fraction(16))
ASPECT_3 = (Fraction(1, 3), Fraction(3))

SEEDREAM_2K_PRESETS = (
    SizePreset("1:1", 2048, 2048),
    SizePreset("4:3", 2304, 1728),
    SizePreset("3:4", 1728, 2304),
    SizePreset("16:9", 2560, 1440),
    SizePreset("9:16", 1440, 2560),
    SizePreset("3:2", 2496, 1664),
    SizePreset("2:3", 1664, 2496),
    SizePreset("21:9", 3024, 1296),
)
SEEDREAM_4K_PRESET = SizePreset("1:1 4K", 4096, 4096)
JIMENG3_PRESETS = (
    SizePreset("1:1", 1328, 1328),
    SizePreset("4:3", 1472, 1104),
    SizePreset("3:4", 1104, 1472),
    SizePreset("16:9", 1664, 936),
    SizePreset("9:16", 936, 1664),
)

SEEDREAM4_REFS = ReferenceRules(
    min_count=1, max_count=14, content_types=ARK_REF_FORMATS, min_aspect=ASPECT_16[0], max_aspect=ASPECT_16[1]
)
SEEDREAM40_SIZES = SizeRules(
    levels=("1K", "2K", "4K"),
    min_pixels=921_600,
    max_pixels=16_777_216,
    min_aspect=ASPECT_16[0],
    max_aspect=ASPECT_16[1],
    presets=(SizePreset("1:1 1K", 1024, 1024), SizePreset("16:9 HD", 1280, 720), *SEEDREAM_2K_PRESETS, SEEDREAM_4K_PRESET),
    default="2048x2048",
    min_pixels_example="1280x720",
)


def _seedream40_like(model_id: str, label: str, *, extra: bool) -> ModelSpec:
    return ModelSpec(
        id=model_id,
        provider="ark",
        label_zh=label if extra else "豆包 Seedream 4.0",
        label_en=label if extra else "Seedream 4.0",
        description_zh=(
            "用户在 ARK_EXTRA_MODELS 中添加的方舟模型或推理接入点，按 Seedream 4.0 的能力处理。"
            if extra
            else "文生图、单图/多图参考（最多 14 张）与组图，支持 1K/2K/4K。"
        ),
        description_en=(
            "Ark model or endpoint listed in ARK_EXTRA_MODELS, treated like Seedream 4.0."
            if extra
            else "Text-to-image, editing with up to 14 reference images, and image groups; 1K/2K/4K."
        ),
        modes=frozenset({"text2image", "image2image", "group"}),
        refs=SEEDREAM4_REFS,
        sizes=SEEDREAM40_SIZES,
        watermark=True,
        optimize_prompt=("standard", "fast"),
        group=GroupRules(max_images=15),
        streaming=True,
        extra=extra,
    )


def _visual_async(req_key: str) -> VisualCall:
    return VisualCall(req_key, sync=False, action="CVSync2AsyncSubmitTask", result_action="CVSync2AsyncGetResult")


def _visual_sync(req_key: str) -> VisualCall:
    return VisualCall(req_key, sync=True, action="CVProcess", result_action=None)


BUILTIN_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="doubao-seedream-4-5-251128",
        provider="ark",
        label_zh="豆包 Seedream 4.5",
        label_en="Seedream 4.5",
        description_zh="最新 Seedream：文生图、多图参考（最多 14 张）与组图，2K/4K 高清输出。",
        description_en="Latest Seedream: text-to-image, up to 14 reference images, image groups; 2K/4K output.",
        modes=frozenset({"text2image", "image2image", "group"}),
        refs=SEEDREAM4_REFS,
        sizes=SizeRules(
            levels=("2K", "4K"),
            min_pixels=3_686_400,
            max_pixels=16_777_216,
            min_aspect=ASPECT_16[0],
            max_aspect=ASPECT_16[1],
            presets=(*SEEDREAM_2K_PRESETS, SEEDREAM_4K_PRESET),
            default="2048x2048",
            min_pixels_example="2560x1440",
        ),
        watermark=True,
        optimize_prompt=("standard",),
        group=GroupRules(max_images=15),
        streaming=True,
    ),
    _seedream40_like(ARK_DEFAULT_MODEL_ID, "Seedream 4.0", extra=False),
    ModelSpec(
        id="doubao-seedream-3-0-t2i-250415",
        provider="ark",
        label_zh="豆包 Seedream 3.0 文生图",
        label_en="Seedream 3.0 (text-to-image)",
        description_zh="文生图，支持随机种子与提示词引导强度，边长 512-2048。",
        description_en="Text-to-image with seed and guidance scale; each side 512-2048.",
        modes=frozenset({"text2image"}),
        refs=ReferenceRules(),
        sizes=SizeRules(
            min_side=512,
            max_side=2048,
            presets=(
                SizePreset("1:1", 1024, 1024),
                SizePreset("3:4", 864, 1152),
                SizePreset("4:3", 1152, 864),
                SizePreset("16:9", 1280, 720),
                SizePreset("9:16", 720, 1280),
                SizePreset("2:3", 832, 1248),
                SizePreset("3:2", 1248, 832),
                SizePreset("21:9", 1512, 648),
            ),
            default="1024x1024",
        ),
        seed=True,
        guidance_scale=ParamRange(1, 10, 2.5),
        watermark=True,
    ),
    ModelSpec(
        id="doubao-seededit-3-0-i2i-250628",
        provider="ark",
        label_zh="豆包 SeedEdit 3.0 图像编辑",
        label_en="SeedEdit 3.0 (image edit)",
        description_zh="用一句话编辑一张图片，输出保持原图比例。",
        description_en="Edit one image with an instruction; the output keeps the input's aspect ratio.",
        modes=frozenset({"image2image"}),
        refs=ReferenceRules(min_count=1, max_count=1, min_aspect=ASPECT_3[0], max_aspect=ASPECT_3[1]),
        sizes=SizeRules(levels=("adaptive",), allow_custom_wh=False, default="adaptive"),
        seed=True,
        guidance_scale=ParamRange(1, 10, 5.5),
        watermark=True,
    ),
    ModelSpec(
        id="jimeng_t2i_v40",
        provider="visual",
        label_zh="即梦 4.0",
        label_en="Jimeng 4.0",
        description_zh="即梦 4.0：文生图、多图参考（最多 10 张）与组图，最高 4K。",
        description_en="Jimeng 4.0: text-to-image, up to 10 reference images, image groups, up to 4K.",
        modes=frozenset({"text2image", "image2image", "group"}),
        refs=ReferenceRules(
            min_count=1,
            max_count=10,
            max_side=4096,
            max_pixels=None,
            max_bytes=15 * 1024 * 1024,
            min_aspect=ASPECT_3[0],
            max_aspect=ASPECT_3[1],
        ),
        sizes=SizeRules(
            levels=("1K", "2K", "4K"),
            min_pixels=1_048_576,
            max_pixels=16_777_216,
            min_aspect=ASPECT_16[0],
            max_aspect=ASPECT_16[1],
            presets=(SizePreset("1:1 1K", 1024, 1024), *SEEDREAM_2K_PRESETS, SEEDREAM_4K_PRESET),
            default="2048x2048",
            min_pixels_example="1024x1024",
            level_pixels=(("1K", 1_048_576), ("2K", 4_194_304), ("4K", 16_777_216)),
        ),
        seed=True,
        strength=ParamRange(0, 1, 0.5),
        watermark=True,
        group=GroupRules(max_images=15),
        prompt_max_length=800,
        visual=_visual_async("jimeng_t2i_v40"),
    ),
    ModelSpec(
        id="jimeng_t2i_v31",
        provider="visual",
        label_zh="即梦 文生图 3.1",
        label_en="Jimeng 3.1 (text-to-image)",
        description_zh="即梦文生图 3.1，边长 512-2048，可开启提示词扩写。",
        description_en="Jimeng text-to-image 3.1; each side 512-2048, optional prompt expansion.",
        modes=frozenset({"text2image"}),
        refs=ReferenceRules(),
        sizes=SizeRules(min_side=512, max_side=2048, presets=JIMENG3_PRESETS, default="1328x1328"),
        seed=True,
        watermark=True,
        optimize_prompt=("standard",),
        prompt_max_length=800,
        visual=_visual_async("jimeng_t2i_v31"),
    ),
    ModelSpec(
        id="jimeng_t2i_v30",
        provider="visual",
        label_zh="即梦 文生图 3.0",
        label_en="Jimeng 3.0 (text-to-image)",
        description_zh="即梦文生图 3.0，边长 512-2048，可开启提示词扩写。",
        description_en="Jimeng text-to-image 3.0; each side 512-2048, optional prompt expansion.",
        modes=frozenset({"text2image"}),
        refs=ReferenceRules(),
        sizes=SizeRules(min_side=512, max_side=2048, presets=JIMENG3_PRESETS, default="1328x1328"),
        seed=True,
        watermark=True,
        optimize_prompt=("standard",),
        prompt_max_length=800,
        visual=_visual_async("jimeng_t2i_v30"),
    ),
    ModelSpec(
        id="jimeng_i2i_v30",
        provider="visual",
        label_zh="即梦 图生图 3.0",
        label_en="Jimeng 3.0 (image-to-image)",
        description_zh="以一张参考图为基础按提示词重绘（智能参考）。",
        description_en="Redraw one reference image following the prompt (smart reference).",
        modes=frozenset({"image2image"}),
        # Input limits are only known approximately (about 4.7 MB / 4096 px): checked leniently.
        refs=ReferenceRules(min_count=1, max_count=1, max_side=4096, max_pixels=None),
        sizes=SizeRules(levels=("adaptive",), min_side=512, max_side=1536, default="adaptive"),
        seed=True,
        strength=ParamRange(0, 1, 0.5),
        watermark=True,
        prompt_max_length=800,
        visual=_visual_async("jimeng_i2i_v30"),
    ),
    ModelSpec(
        id="seededit_v3.0",
        provider="visual",
        label_zh="SeedEdit 3.0 指令编辑（视觉智能）",
        label_en="SeedEdit 3.0 (Visual API)",
        description_zh="用一句话编辑一张图片，输出保持原图比例。",
        description_en="Edit one image with an instruction; the output keeps the input's aspect ratio.",
        modes=frozenset({"image2image"}),
        refs=ReferenceRules(min_count=1, max_count=1, max_side=4096, max_pixels=None),
        sizes=SizeRules(levels=("adaptive",), allow_custom_wh=False, default="adaptive"),
        seed=True,
        strength=ParamRange(0, 1, 0.5),
        watermark=True,
        prompt_max_length=800,
        visual=_visual_async("seededit_v3.0"),
    ),
    ModelSpec(
        id="high_aes_general_v30l_zt2i",
        provider="visual",
        label_zh="通用 3.0 文生图",
        label_en="General 3.0 (text-to-image)",
        description_zh="通用文生图 3.0（Seedream 3.0），同步返回，边长 512-2048。",
        description_en="General text-to-image 3.0 (Seedream 3.0), synchronous; each side 512-2048.",
        modes=frozenset({"text2image"}),
        refs=ReferenceRules(),
        sizes=SizeRules(min_side=512, max_side=2048, presets=JIMENG3_PRESETS, default="1328x1328"),
        seed=True,
        guidance_scale=ParamRange(1, 10, 2.5),
        watermark=True,
        optimize_prompt=("standard",),
        prompt_max_length=800,
        visual=_visual_sync("high_aes_general_v30l_zt2i"),
    ),
    ModelSpec(
        id="high_aes_general_v21_L",
        provider="visual",
        label_zh="通用 2.1 文生图（旧版）",
        label_en="General 2.1 (legacy)",
        description_zh="旧版通用文生图 2.1，同步返回，边长最大 768。",
        description_en="Legacy general text-to-image 2.1, synchronous; each side up to 768.",
        modes=frozenset({"text2image"}),
        refs=ReferenceRules(),
        sizes=SizeRules(
            min_side=256,
            max_side=768,
            presets=(
                SizePreset("1:1", 512, 512),
                SizePreset("1:1 L", 768, 768),
                SizePreset("3:4", 576, 768),
                SizePreset("4:3", 768, 576),
            ),
            default="512x512",
        ),
        seed=True,
        guidance_scale=ParamRange(1, 10, 3.5),
        watermark=True,
        optimize_prompt=("standard",),
        prompt_max_length=800,
        visual=_visual_sync("high_aes_general_v21_L"),
    ),
    ModelSpec(
        id=DEMO_MODEL_ID,
        provider="demo",
        label_zh="演示（离线）",
        label_en="Demo (offline)",
        description_zh="离线生成带有 DEMO 标记的示例图片，无需任何密钥，用于体验完整流程。",
        description_en="Offline sample images marked DEMO; needs no credentials and exercises the whole app.",
        modes=frozenset({"text2image", "image2image", "group"}),
        refs=ReferenceRules(
            min_count=1,
            max_count=4,
            content_types=("image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp", "image/tiff"),
            min_side=1,
            max_bytes=None,
        ),
        sizes=SizeRules(
            min_side=256,
            max_side=2048,
            presets=(
                SizePreset("1:1", 1024, 1024),
                SizePreset("1:1 S", 512, 512),
                SizePreset("4:3", 1152, 864),
                SizePreset("3:4", 864, 1152),
                SizePreset("16:9", 1280, 720),
                SizePreset("9:16", 720, 1280),
                SizePreset("1:1 2K", 2048, 2048),
            ),
            default="1024x1024",
        ),
        seed=True,
        guidance_scale=ParamRange(1, 10, 5.0),
        strength=ParamRange(0, 1, 0.5),
        negative_prompt=True,
        group=GroupRules(max_images=4, max_total=None),
    ),
)


def parse_extra_models(entries: Iterable[str]) -> list[tuple[str, str]]:
    """``ARK_EXTRA_MODELS`` items as ``(id, label)``; an item is ``id`` or ``id:Label``."""
    parsed: list[tuple[str, str]] = []
    seen: set[str] = set()
    for entry in entries:
        model_id, _, label = entry.partition(":")
        model_id, label = model_id.strip(), label.strip()
        if not model_id or model_id in seen:
            continue
        seen.add(model_id)
        parsed.append((model_id, label or model_id))
    return parsed


# --------------------------------------------------------------------------------------------
# The catalogue


_UNAVAILABLE_REASONS: dict[ProviderName, tuple[str, str]] = {
    "ark": ("ARK_API_KEY is not set.", "未配置 ARK_API_KEY。"),
    "visual": (
        "VOLCENGINE_ACCESS_KEY and VOLCENGINE_SECRET_KEY are not both set.",
        "未同时配置 VOLCENGINE_ACCESS_KEY 与 VOLCENGINE_SECRET_KEY。",
    ),
    "demo": ("", ""),
}


class Catalog:
    """Immutable view of the models this deployment knows and which of them it can call."""

    def __init__(
        self,
        specs: Sequence[ModelSpec],
        *,
        ark_configured: bool,
        visual_configured: bool,
        preferred_default: str | None = None,
    ) -> None:
        self._specs = tuple(specs)
        self._by_id = {spec.id: spec for spec in self._specs}
        if len(self._by_id) != len(self._specs):
            raise ValueError("duplicate model ids in the catalogue")
        self._configured: dict[ProviderName, bool] = {
            "ark": ark_configured,
            "visual": visual_configured,
            "demo": True,
        }
        self.default_model = self._pick_default(preferred_default)

    @classmethod
    def from_settings(cls, settings: Settings) -> Catalog:
        concurrency: dict[ProviderName, int | None] = {
            "ark": settings.ark_max_concurrency,
            "visual": settings.visual_max_concurrency,
            "demo": None,
        }
        builtin_ids = {spec.id for spec in BUILTIN_MODELS}
        extras = [
            _seedream40_like(model_id, label, extra=True)
            for model_id, label in parse_extra_models(settings.ark_extra_models)
            if model_id not in builtin_ids
        ]
        specs = list(BUILTIN_MODELS)
        # Extras belong with the Ark models, before Visual and demo.
        last_ark = max(i for i, spec in enumerate(specs) if spec.provider == "ark")
        specs[last_ark + 1 : last_ark + 1] = extras
        specs = [replace(spec, max_concurrency=concurrency[spec.provider]) for spec in specs]
        return cls(
            specs,
            ark_configured=settings.ark_configured,
            visual_configured=settings.visual_configured,
            preferred_default=settings.default_model,
        )

    def _pick_default(self, preferred: str | None) -> str:
        if preferred and preferred in self._by_id and self.available(self._by_id[preferred]):
            return preferred
        if self._configured["ark"]:
            return ARK_DEFAULT_MODEL_ID
        if self._configured["visual"]:
            return VISUAL_DEFAULT_MODEL_ID
        return DEMO_MODEL_ID

    def get(self, model_id: str) -> ModelSpec:
        spec = self._by_id.get(model_id)
        if spec is None:
            known = ", ".join(self._by_id)
            raise InvalidRequest(
                f"Unknown model {model_id!r}. Known models: {known}.",
                message_zh=f"未知模型 {model_id!r}。可用的模型：{known}。",
                details={"field": "model", "model": model_id},
            )
        return spec

    def resolve(self, model_id: str | None) -> ModelSpec:
        """The model a request names, or the default one when it names none."""
        return self.get(model_id or self.default_model)

    def all(self) -> tuple[ModelSpec, ...]:
        return self._specs

    def available(self, spec: ModelSpec) -> bool:
        return self._configured[spec.provider]

    def unavailable_reason(self, spec: ModelSpec) -> tuple[str, str] | None:
        """``(en, zh)`` explaining why ``spec`` cannot be used, or None when it can."""
        if self.available(spec):
            return None
        return _UNAVAILABLE_REASONS[spec.provider]

    def to_public(self) -> dict[str, Any]:
        return {"default_model": self.default_model, "models": [self._public(spec) for spec in self._specs]}

    def _public(self, spec: ModelSpec) -> dict[str, Any]:
        reason = self.unavailable_reason(spec)
        sizes, refs = spec.sizes, spec.refs
        return {
            "id": spec.id,
            "provider": spec.provider,
            "label": {"zh": spec.label_zh, "en": spec.label_en},
            "description": {"zh": spec.description_zh, "en": spec.description_en},
            "modes": [mode for mode in ("text2image", "image2image", "group") if mode in spec.modes],
            "available": reason is None,
            "unavailable_reason": None if reason is None else {"en": reason[0], "zh": reason[1]},
            "references": {
                "min": refs.min_count,
                "max": refs.max_count,
                "content_types": list(refs.content_types),
                "min_side": refs.min_side,
                "max_side": refs.max_side,
                "max_pixels": refs.max_pixels,
                "max_bytes": refs.max_bytes,
                "min_aspect": _float(refs.min_aspect),
                "max_aspect": _float(refs.max_aspect),
            },
            "size": {
                "levels": list(sizes.levels),
                "allow_custom": sizes.allow_custom_wh,
                "min_pixels": sizes.min_pixels,
                "max_pixels": sizes.max_pixels,
                "min_side": sizes.min_side,
                "max_side": sizes.max_side,
                "min_aspect": _float(sizes.min_aspect),
                "max_aspect": _float(sizes.max_aspect),
                "presets": [{"label": p.label, "width": p.width, "height": p.height} for p in sizes.presets],
                "default": sizes.default,
            },
            "params": {
                "seed": spec.seed,
                "guidance_scale": _range(spec.guidance_scale),
                "strength": _range(spec.strength),
                "negative_prompt": spec.negative_prompt,
                "watermark": spec.watermark,
                "optimize_prompt": list(spec.optimize_prompt),
                "num_images_max": spec.max_num_images,
                "group": None
                if spec.group is None
                else {"max_images": spec.group.max_images, "max_total": spec.group.max_total},
                "streaming": spec.streaming,
            },
            "prompt_max_length": spec.prompt_max_length,
            "max_concurrency": spec.max_concurrency,
            "sync": spec.visual.sync if spec.visual else spec.provider != "visual",
            "extra": spec.extra,
        }


def _float(value: Fraction | None) -> float | None:
    return None if value is None else float(value)


def _range(value: ParamRange | None) -> dict[str, float] | None:
    return None if value is None else {"min": value.min, "max": value.max, "default": value.default}


# --------------------------------------------------------------------------------------------
# Validation

_WXH_RE = re.compile(r"^\s*(\d{1,6})\s*[xX×*]\s*(\d{1,6})\s*$")
_GENERATION_MODES: tuple[Mode, ...] = ("text2image", "image2image")
_MODE_NAMES = {
    "text2image": ("text-to-image", "文生图"),
    "image2image": ("image-to-image", "图生图"),
}


def _invalid(field: str, en: str, zh: str, **details: Any) -> InvalidRequest:
    return InvalidRequest(en, message_zh=zh, details={"field": field, **details})


def _ratio(value: Fraction) -> str:
    # 1/16 -> "1:16", 16 -> "16:1"
    return f"{value.numerator}:{value.denominator}"


def _num(value: float) -> str:
    return f"{value:g}"


def parse_size(value: str) -> tuple[int, int] | None:
    """``"WxH"`` as integers, or None when ``value`` is not of that shape."""
    match = _WXH_RE.match(value)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _check_mode(spec: ModelSpec, mode: Mode) -> None:
    if spec.supports(mode):
        return
    en_mode, zh_mode = _MODE_NAMES[mode]
    others = [m for m in _GENERATION_MODES if spec.supports(m)]
    en_hint = f" It supports {', '.join(_MODE_NAMES[m][0] for m in others)}." if others else ""
    zh_hint = f"它支持：{'、'.join(_MODE_NAMES[m][1] for m in others)}。" if others else ""
    raise _invalid(
        "mode",
        f"{spec.label_en} does not support {en_mode}.{en_hint}",
        f"{spec.label_zh} 不支持{zh_mode}。{zh_hint}",
        mode=mode,
    )


def _check_references(spec: ModelSpec, mode: Mode, references: Sequence[ReferenceImage]) -> None:
    rules, count = spec.refs, len(references)
    if mode == "text2image":
        if count:
            raise _invalid(
                "images",
                "Text-to-image takes no reference images; use image-to-image to send images.",
                "文生图不接受参考图；如需上传图片请使用图生图。",
            )
        return
    low, high = max(1, rules.min_count), rules.max_count
    if not low <= count <= high:
        if low == high:
            en_need, zh_need = f"exactly {low} reference image{'s' if low > 1 else ''}", f"恰好 {low} 张参考图"
        else:
            en_need, zh_need = f"{low} to {high} reference images", f"{low}-{high} 张参考图"
        raise _invalid(
            "images",
            f"{spec.label_en} needs {en_need}; got {count}.",
            f"{spec.label_zh} 需要{zh_need}，实际为 {count} 张。",
            min=low,
            max=high,
            count=count,
        )
    for index, ref in enumerate(references):
        _check_reference(spec, index, ref)


def _check_reference(spec: ModelSpec, index: int, ref: ReferenceImage) -> None:
    rules = spec.refs
    w, h = ref.width, ref.height
    n = index + 1

    def fail(en: str, zh: str) -> InvalidRequest:
        return _invalid("images", f"Reference image {n}: {en}", f"第 {n} 张参考图：{zh}", index=index)

    if ref.content_type.lower() not in rules.content_types:
        kinds = ", ".join(t.split("/", 1)[1].upper() for t in rules.content_types)
        raise fail(
            f"{ref.content_type} is not accepted by {spec.label_en}; use {kinds}.",
            f"{spec.label_zh} 不支持 {ref.content_type} 格式，请使用 {kinds}。",
        )
    if rules.max_bytes is not None and len(ref.data) > rules.max_bytes:
        mb = rules.max_bytes / (1024 * 1024)
        raise fail(
            f"{len(ref.data) / (1024 * 1024):.1f} MB is larger than the {mb:g} MB {spec.label_en} accepts.",
            f"文件大小 {len(ref.data) / (1024 * 1024):.1f} MB 超过 {spec.label_zh} 的上限 {mb:g} MB。",
        )
    if min(w, h) < rules.min_side:
        raise fail(
            f"{w}x{h} is too small; each side must be at least {rules.min_side} pixels.",
            f"尺寸 {w}x{h} 过小，每边至少 {rules.min_side} 像素。",
        )
    if rules.max_side is not None and max(w, h) > rules.max_side:
        raise fail(
            f"{w}x{h} is too large for {spec.label_en}; each side may be at most {rules.max_side} pixels.",
            f"尺寸 {w}x{h} 超出 {spec.label_zh} 的限制，每边最多 {rules.max_side} 像素。",
        )
    if rules.max_pixels is not None and w * h > rules.max_pixels:
        raise fail(
            f"{w}x{h} has more than the {rules.max_pixels} pixels {spec.label_en} accepts.",
            f"尺寸 {w}x{h} 的像素总数超过 {spec.label_zh} 的上限 {rules.max_pixels}。",
        )
    aspect = Fraction(w, h)
    if (rules.min_aspect is not None and aspect < rules.min_aspect) or (
        rules.max_aspect is not None and aspect > rules.max_aspect
    ):
        lo, hi = _ratio(rules.min_aspect or Fraction(0)), _ratio(rules.max_aspect or Fraction(0))
        raise fail(
            f"the aspect ratio of {w}x{h} is outside {lo} to {hi}, the range {spec.label_en} accepts.",
            f"尺寸 {w}x{h} 的宽高比超出 {spec.label_zh} 支持的范围（{lo} 到 {hi}）。",
        )


def _resolve_size(spec: ModelSpec, body: GenerateIn) -> tuple[str | None, int | None, int | None]:
    """``(level, width, height)`` with exactly one of level or width/height set."""
    rules = spec.sizes
    if body.size is not None and (body.width is not None or body.height is not None):
        raise _invalid(
            "size",
            "Give either size or width and height, not both.",
            "请只填写 size，或同时填写 width 与 height，不要同时使用两者。",
        )
    if (body.width is None) != (body.height is None):
        missing = "height" if body.height is None else "width"
        raise _invalid(
            missing,
            "Width and height must be given together.",
            "宽度和高度必须同时填写。",
        )

    field = "size"
    if body.width is not None and body.height is not None:
        dims: tuple[int, int] | None = (body.width, body.height)
        field = "width"
    elif body.size:
        level = _match_level(rules.levels, body.size)
        if level is not None:
            return level, None, None
        dims = parse_size(body.size)
        if dims is None:
            raise _invalid("size", *_size_shape_messages(spec, body.size))
    else:
        level = _match_level(rules.levels, rules.default)
        if level is not None:
            return level, None, None
        dims = parse_size(rules.default)
        if dims is None:  # a spec bug, not the caller's: fail loudly in tests
            raise ValueError(f"bad default size {rules.default!r} for {spec.id}")
        return None, dims[0], dims[1]

    assert dims is not None
    _check_dims(spec, field, *dims)
    return None, dims[0], dims[1]


def _match_level(levels: Sequence[str], value: str) -> str | None:
    wanted = value.strip().lower()
    return next((level for level in levels if level.lower() == wanted), None)


def _size_shape_messages(spec: ModelSpec, value: str) -> tuple[str, str]:
    rules = spec.sizes
    options_en = [f'"{lvl}"' for lvl in rules.levels]
    if rules.allow_custom_wh:
        options_en.append('"<width>x<height>" (e.g. "1024x1024")')
    options = " or ".join(options_en)
    return (
        f"Size {value!r} is not valid for {spec.label_en}; use {options}.",
        f"尺寸 {value!r} 对 {spec.label_zh} 无效，请使用 {options}。",
    )


def _check_dims(spec: ModelSpec, field: str, w: int, h: int) -> None:
    rules = spec.sizes
    if not rules.allow_custom_wh:
        levels = " or ".join(f'"{lvl}"' for lvl in rules.levels)
        raise _invalid(
            field,
            f"{spec.label_en} does not take a width and height; use size {levels} "
            "(the output follows the input image).",
            f"{spec.label_zh} 不支持自定义宽高，请使用 size {levels}（输出跟随输入图片）。",
        )
    size = f"{w}x{h}"
    if rules.min_side is not None and min(w, h) < rules.min_side:
        raise _invalid(
            field,
            f"Size {size} is too small for {spec.label_en}: each side must be at least {rules.min_side} pixels.",
            f"尺寸 {size} 对 {spec.label_zh} 来说过小：每边至少 {rules.min_side} 像素。",
        )
    if rules.max_side is not None and max(w, h) > rules.max_side:
        raise _invalid(
            field,
            f"Size {size} is too large for {spec.label_en}: each side must be at most {rules.max_side} pixels.",
            f"尺寸 {size} 对 {spec.label_zh} 来说过大：每边最多 {rules.max_side} 像素。",
        )
    if rules.min_pixels is not None and w * h < rules.min_pixels:
        example = f" (e.g. {rules.min_pixels_example})" if rules.min_pixels_example else ""
        example_zh = f"（如 {rules.min_pixels_example}）" if rules.min_pixels_example else ""
        raise _invalid(
            field,
            f"Size {size} is too small for {spec.label_en}: at least {rules.min_pixels} pixels{example}.",
            f"尺寸 {size} 对 {spec.label_zh} 来说过小：总像素至少 {rules.min_pixels}{example_zh}。",
        )
    if rules.max_pixels is not None and w * h > rules.max_pixels:
        raise _invalid(
            field,
            f"Size {size} is too large for {spec.label_en}: at most {rules.max_pixels} pixels (e.g. 4096x4096).",
            f"尺寸 {size} 对 {spec.label_zh} 来说过大：总像素最多 {rules.max_pixels}（如 4096x4096）。",
        )
    aspect = Fraction(w, h)
    if (rules.min_aspect is not None and aspect < rules.min_aspect) or (
        rules.max_aspect is not None and aspect > rules.max_aspect
    ):
        lo, hi = _ratio(rules.min_aspect or Fraction(0)), _ratio(rules.max_aspect or Fraction(0))
        raise _invalid(
            field,
            f"Size {size} has an aspect ratio outside {lo} to {hi}, the range {spec.label_en} accepts.",
            f"尺寸 {size} 的宽高比超出 {spec.label_zh} 支持的范围（{lo} 到 {hi}）。",
        )


def _not_taken(spec: ModelSpec, field: str, en_what: str, zh_what: str) -> InvalidRequest:
    return _invalid(
        field,
        f"{spec.label_en} does not take {en_what}; remove {field}.",
        f"{spec.label_zh} 不支持{zh_what}，请去掉 {field}。",
    )


def _check_range(spec: ModelSpec, field: str, value: float, allowed: ParamRange, zh_name: str) -> None:
    if allowed.min <= value <= allowed.max:
        return
    lo, hi = _num(allowed.min), _num(allowed.max)
    raise _invalid(
        field,
        f"{field} {_num(value)} is out of range for {spec.label_en}: use {lo} to {hi} "
        f"(default {_num(allowed.default)}).",
        f"{zh_name} {_num(value)} 超出 {spec.label_zh} 的范围：应在 {lo} 到 {hi} 之间（默认 {_num(allowed.default)}）。",
        min=allowed.min,
        max=allowed.max,
    )


def _resolve_strength(spec: ModelSpec, body: GenerateIn, mode: Mode) -> float | None:
    strength: float | None = getattr(body, "strength", None)
    scale: float | None = getattr(body, "scale", None)
    if strength is not None and scale is not None and strength != scale:
        raise _invalid(
            "strength",
            "strength and scale are the same setting; give only one.",
            "strength 与 scale 是同一个参数，请只填写一个。",
        )
    field = "strength" if strength is not None else "scale"
    value = strength if strength is not None else scale
    if value is None:
        # Record the model's default so the stored parameters say what was used.
        return spec.strength.default if spec.strength is not None and mode == "image2image" else None
    if spec.strength is None or mode != "image2image":
        raise _not_taken(spec, field, "a strength (reference image weight)", "参考强度（strength）")
    _check_range(spec, field, value, spec.strength, "参考强度")
    return value


def _resolve_optimize(spec: ModelSpec, value: bool | str | None) -> str | None:
    if value is None or value is False:
        return None
    mode = "standard" if value is True else value
    if not spec.optimize_prompt:
        raise _not_taken(spec, "optimize_prompt", "prompt optimisation", "提示词优化")
    if mode not in spec.optimize_prompt:
        allowed = ", ".join(spec.optimize_prompt)
        raise _invalid(
            "optimize_prompt",
            f"{spec.label_en} supports prompt optimisation mode {allowed}, not {mode!r}.",
            f"{spec.label_zh} 的提示词优化仅支持 {allowed}，不支持 {mode!r}。",
        )
    return mode


def _resolve_group(
    spec: ModelSpec, body: GenerateIn, references: Sequence[ReferenceImage]
) -> tuple[int | None, int]:
    """``(group_max_images, num_images)``."""
    if body.num_images > spec.max_num_images:
        raise _invalid(
            "num_images",
            f"{spec.label_en} makes at most {spec.max_num_images} images per request.",
            f"{spec.label_zh} 每次最多生成 {spec.max_num_images} 张图片。",
            max=spec.max_num_images,
        )
    if body.group is None:
        return None, body.num_images
    rules = spec.group
    if rules is None:
        raise _invalid(
            "group",
            f"{spec.label_en} cannot generate image groups.",
            f"{spec.label_zh} 不支持组图生成。",
        )
    if body.num_images > 1:
        raise _invalid(
            "num_images",
            "num_images cannot be combined with group; set group.max_images instead.",
            "组图模式下不能同时设置 num_images，请改用 group.max_images。",
        )
    wanted = body.group.max_images
    if wanted > rules.max_images:
        raise _invalid(
            "group.max_images",
            f"{spec.label_en} makes at most {rules.max_images} images in a group.",
            f"{spec.label_zh} 的组图最多 {rules.max_images} 张。",
            max=rules.max_images,
        )
    if rules.max_total is not None and len(references) + wanted > rules.max_total:
        room = rules.max_total - len(references)
        raise _invalid(
            "group.max_images",
            f"Reference images plus group images may not exceed {rules.max_total}: with "
            f"{len(references)} reference images, ask for at most {room}.",
            f"参考图数量与组图数量之和不能超过 {rules.max_total}：当前有 {len(references)} 张参考图，"
            f"组图最多 {room} 张。",
            max=room,
        )
    return wanted, 1


def validate_request(
    spec: ModelSpec,
    body: GenerateIn,
    *,
    mode: Mode,
    references: Sequence[ReferenceImage],
    available: bool,
) -> GenerationRequest:
    """Check ``body`` against everything ``spec`` allows; the result is safe to queue.

    Normalisations: seed ``-1`` means random and becomes None (so models without a seed accept it);
    ``optimize_prompt: true`` becomes ``"standard"``; an empty negative prompt is dropped; a
    missing size, guidance scale or (image-to-image) strength gets the model's default.
    """
    if not available:
        raise ModelUnavailable(
            f"{spec.label_en} is not available on this server: its credentials are not configured.",
            message_zh=f"{spec.label_zh} 在此服务器上不可用：未配置对应的密钥。",
            details={"field": "model", "model": spec.id, "provider": spec.provider},
        )
    _check_mode(spec, mode)

    if len(body.prompt) > spec.prompt_max_length:
        raise _invalid(
            "prompt",
            f"The prompt is {len(body.prompt)} characters long; {spec.label_en} accepts at most "
            f"{spec.prompt_max_length}.",
            f"提示词长度为 {len(body.prompt)} 个字符，{spec.label_zh} 最多接受 {spec.prompt_max_length} 个。",
            max=spec.prompt_max_length,
        )

    _check_references(spec, mode, references)
    level, width, height = _resolve_size(spec, body)

    seed = None if body.seed is None or body.seed == -1 else body.seed
    if seed is not None and not spec.seed:
        raise _not_taken(spec, "seed", "a seed", "随机种子（seed）")

    guidance = body.guidance_scale
    if guidance is not None:
        if spec.guidance_scale is None:
            raise _not_taken(spec, "guidance_scale", "a guidance scale", "引导强度（guidance_scale）")
        _check_range(spec, "guidance_scale", guidance, spec.guidance_scale, "引导强度")
    elif spec.guidance_scale is not None:
        guidance = spec.guidance_scale.default

    negative = body.negative_prompt or None
    if negative is not None and not spec.negative_prompt:
        raise _not_taken(spec, "negative_prompt", "a negative prompt", "反向提示词（negative_prompt）")

    if body.watermark and not spec.watermark:
        raise _not_taken(spec, "watermark", "a watermark", "水印（watermark）")

    strength = _resolve_strength(spec, body, mode)
    optimize = _resolve_optimize(spec, body.optimize_prompt)
    group_max, num_images = _resolve_group(spec, body, references)

    return GenerationRequest(
        model=spec.id,
        mode=mode,
        prompt=body.prompt,
        negative_prompt=negative,
        size=level,
        width=width,
        height=height,
        seed=seed,
        guidance_scale=guidance,
        strength=strength,
        num_images=num_images,
        group_max_images=group_max,
        watermark=body.watermark,
        optimize_prompt=optimize,
        style_preset=body.style_preset,
        references=tuple(references),
    )
