"""The models we know, as data. Capabilities come from ``shared/volcengine-api.md`` sections
1.2-1.5 (Ark) and 2.2-2.3 (Visual). Where the reference marks a limit as unverified we validate
leniently and let the upstream have the last word.
"""

from __future__ import annotations

from fractions import Fraction

from app.providers.catalog.specs import (
    ARK_DEFAULT_MODEL_ID,
    ARK_REF_FORMATS,
    DEMO_MODEL_ID,
    GroupRules,
    ModelSpec,
    ParamRange,
    ReferenceRules,
    SizePreset,
    SizeRules,
    VisualCall,
)

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


def seedream40_like(model_id: str, label: str, *, extra: bool) -> ModelSpec:
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
    seedream40_like(ARK_DEFAULT_MODEL_ID, "Seedream 4.0", extra=False),
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

