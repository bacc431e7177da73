"""The one place a generation request is checked against its model's rules.

Takes a ``GenerationInput`` (what the caller asked for, transport-free) and answers a
``GenerationRequest`` that is safe to queue, or raises ``InvalidRequest`` / ``ModelUnavailable``
with a message in English and Chinese naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from app.core.errors import InvalidRequest, ModelUnavailable
from app.providers.base import GenerationMode as Mode
from app.providers.base import GenerationRequest, ReferenceImage
from app.providers.catalog.specs import ModelSpec, ParamRange


@dataclass(frozen=True, slots=True)
class GenerationInput:
    """What a caller asked for, before it is checked against a model (no transport types)."""

    prompt: str
    negative_prompt: str | None = None
    size: str | None = None
    width: int | None = None
    height: int | None = None
    seed: int | None = None
    guidance_scale: float | None = None
    num_images: int = 1
    # Group generation when set: the most images the group may have.
    group_max_images: int | None = None
    watermark: bool = False
    optimize_prompt: bool | str | None = None
    style_preset: str | None = None
    strength: float | None = None
    # The original app's name for strength; both may be given only when they agree.
    scale: float | None = None
    output_format: str | None = None
    web_search: bool = False
    layer_decomposition: bool = False


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


def _resolve_size(spec: ModelSpec, body: GenerationInput) -> tuple[str | None, int | None, int | None]:
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
    levels = [f'"{lvl}"' for lvl in rules.levels]
    options_en = levels + (['"<width>x<height>" (e.g. "1024x1024")'] if rules.allow_custom_wh else [])
    options_zh = levels + (['"<宽>x<高>"（如 "1024x1024"）'] if rules.allow_custom_wh else [])
    return (
        f"Size {value!r} is not valid for {spec.label_en}; use {' or '.join(options_en)}.",
        f"尺寸 {value!r} 对 {spec.label_zh} 无效，请使用 {' 或 '.join(options_zh)}。",
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


def _resolve_strength(spec: ModelSpec, body: GenerationInput, mode: Mode) -> float | None:
    strength, scale = body.strength, body.scale
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


def _resolve_layers(spec: ModelSpec, output_format: str | None, group_max: int | None) -> str | None:
    """The output format of a layered request: PNG, since its layers are transparent."""
    if not spec.layer_decomposition:
        raise _not_taken(spec, "layer_decomposition", "layer separation", "分层（layer_decomposition）")
    if group_max is not None:
        raise _invalid(
            "layer_decomposition",
            "Layer separation makes one layered set per image; it cannot be combined with an image group.",
            "分层会为每张图片生成一组图层，不能与组图同时使用。",
        )
    if output_format == "jpeg":
        raise _invalid(
            "output_format",
            "Layers are transparent PNGs: choose PNG output (or leave the format unset) for layer separation.",
            "图层是透明 PNG：分层时请选择 PNG 输出（或不指定格式）。",
        )
    return "png" if "png" in spec.output_formats else output_format


def _resolve_output_format(spec: ModelSpec, value: str | None) -> str | None:
    if value is None:
        return None
    if not spec.output_formats:
        raise _invalid(
            "output_format",
            f"{spec.label_en} does not let you choose the output format (it answers in JPEG); remove output_format.",
            f"{spec.label_zh} 不支持选择输出格式（固定为 JPEG），请去掉 output_format。",
        )
    if value not in spec.output_formats:
        allowed = ", ".join(spec.output_formats)
        raise _invalid(
            "output_format",
            f"{spec.label_en} answers in {allowed}, not {value!r}.",
            f"{spec.label_zh} 的输出格式仅支持 {allowed}，不支持 {value!r}。",
            allowed=list(spec.output_formats),
        )
    return value


def _resolve_group(
    spec: ModelSpec, body: GenerationInput, references: Sequence[ReferenceImage]
) -> tuple[int | None, int]:
    """``(group_max_images, num_images)``."""
    if body.num_images > spec.max_num_images:
        raise _invalid(
            "num_images",
            f"{spec.label_en} makes at most {spec.max_num_images} images per request.",
            f"{spec.label_zh} 每次最多生成 {spec.max_num_images} 张图片。",
            max=spec.max_num_images,
        )
    if body.group_max_images is None:
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
    wanted = body.group_max_images
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
    body: GenerationInput,
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
    if body.web_search and not spec.web_search:
        raise _not_taken(spec, "web_search", "the web-search tool", "联网搜索（web_search）")
    output_format = _resolve_output_format(spec, body.output_format)

    strength = _resolve_strength(spec, body, mode)
    optimize = _resolve_optimize(spec, body.optimize_prompt)
    group_max, num_images = _resolve_group(spec, body, references)
    if body.layer_decomposition:
        output_format = _resolve_layers(spec, output_format, group_max)

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
        output_format=output_format,
        web_search=body.web_search,
        layer_decomposition=body.layer_decomposition,
        references=tuple(references),
    )

