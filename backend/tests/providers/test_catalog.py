"""The model catalogue and the one validation step, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from app.core.config import Settings
from app.core.errors import InvalidRequest, ModelUnavailable
from app.providers.base import GenerationRequest, Mode, ReferenceImage
from app.providers.catalog.builtin import BUILTIN_MODELS
from app.providers.catalog.lookup import Catalog, parse_extra_models
from app.providers.catalog.specs import ModelSpec
from app.providers.catalog.validation import parse_size, validate_request
from app.schemas.generation import GenerateIn, Image2ImageIn
from app.services.catalog import public_catalog

ARK_IDS = [
    "doubao-seedream-5-0-260128",
    "doubao-seedream-5-0-pro-260628",
    "doubao-seedream-4-5-251128",
    "doubao-seedream-4-0-250828",
    "doubao-seedream-3-0-t2i-250415",
    "doubao-seededit-3-0-i2i-250628",
]
VISUAL_IDS = [
    "jimeng_seedream46_cvtob",
    "jimeng_t2i_v40",
    "jimeng_t2i_v31",
    "jimeng_t2i_v30",
    "jimeng_i2i_v30",
    "seededit_v3.0",
    "high_aes_general_v30l_zt2i",
    "high_aes_general_v21_L",
]


def make_settings(*, ark: bool = False, visual: bool = False, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "ark_api_key": "ark-test-key" if ark else None,
        "volcengine_access_key": "AKLTtest" if visual else None,
        "volcengine_secret_key": "secret" if visual else None,
        "ark_extra_models": [],
        "default_model": None,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


CATALOG = Catalog.from_settings(make_settings(ark=True, visual=True))


def spec(model_id: str) -> ModelSpec:
    return CATALOG.get(model_id)


def ref(w: int = 1024, h: int = 1024, content_type: str = "image/png", nbytes: int = 64) -> ReferenceImage:
    return ReferenceImage(data=b"\0" * nbytes, content_type=content_type, width=w, height=h)


def check(
    model_id: str,
    *,
    mode: Mode = "text2image",
    refs: list[ReferenceImage] | None = None,
    available: bool = True,
    **body: Any,
) -> GenerationRequest:
    body.setdefault("prompt", "a red fox in snow")
    parsed: GenerateIn = Image2ImageIn(**body) if mode == "image2image" else GenerateIn(**body)
    return validate_request(spec(model_id), parsed.to_input(), mode=mode, references=refs or [], available=available)


# ---------------------------------------------------------------------------------------------
# Catalogue


def test_catalogue_lists_every_model_in_order() -> None:
    assert [m.id for m in CATALOG.all()] == [*ARK_IDS, *VISUAL_IDS, "demo"]
    assert {m.provider for m in CATALOG.all() if m.id in ARK_IDS} == {"ark"}
    assert {m.provider for m in CATALOG.all() if m.id in VISUAL_IDS} == {"visual"}
    assert spec("demo").provider == "demo"


@pytest.mark.parametrize("model", BUILTIN_MODELS, ids=lambda m: m.id)
def test_spec_invariants(model: ModelSpec) -> None:
    assert ("group" in model.modes) == (model.group is not None)
    assert ("image2image" in model.modes) == (model.refs.max_count >= 1)
    assert ("text2image" in model.modes or "image2image" in model.modes)
    assert (model.provider == "visual") == (model.visual is not None)
    if model.visual:
        assert model.visual.req_key == model.id
    assert model.label_en and model.label_zh and model.description_en and model.description_zh


@pytest.mark.parametrize("model", BUILTIN_MODELS, ids=lambda m: m.id)
def test_every_preset_passes_its_own_rules(model: ModelSpec) -> None:
    mode: Mode = "text2image" if "text2image" in model.modes else "image2image"
    refs = [ref()] if mode == "image2image" else []
    for preset in model.sizes.presets:
        req = check(model.id, mode=mode, refs=refs, width=preset.width, height=preset.height)
        assert (req.width, req.height) == (preset.width, preset.height)
    for level in model.sizes.levels:
        assert check(model.id, mode=mode, refs=refs, size=level.lower()).size == level


def test_unknown_model() -> None:
    with pytest.raises(InvalidRequest) as err:
        CATALOG.get("doubao-seedream-9")
    assert err.value.code == "invalid_request"
    assert err.value.details == {"field": "model", "model": "doubao-seedream-9"}
    assert "Unknown model 'doubao-seedream-9'" in err.value.message
    assert "未知模型" in err.value.message_zh


@pytest.mark.parametrize(
    ("ark", "visual", "preferred", "expected"),
    [
        (False, False, None, "demo"),
        (True, False, None, "doubao-seedream-4-0-250828"),
        (False, True, None, "jimeng_t2i_v30"),
        (True, True, None, "doubao-seedream-4-0-250828"),
        (True, True, "jimeng_t2i_v40", "jimeng_t2i_v40"),
        (False, False, "demo", "demo"),
        (False, False, "jimeng_t2i_v40", "demo"),  # preferred but not configured
        (True, False, "no-such-model", "doubao-seedream-4-0-250828"),
        (True, False, "ep-extra", "ep-extra"),
    ],
)
def test_default_model(ark: bool, visual: bool, preferred: str | None, expected: str) -> None:
    catalog = Catalog.from_settings(
        make_settings(ark=ark, visual=visual, default_model=preferred, ark_extra_models=["ep-extra"])
    )
    assert catalog.default_model == expected
    assert catalog.resolve(None).id == expected
    assert catalog.resolve("demo").id == "demo"


@pytest.mark.parametrize(
    ("ark", "visual", "available"),
    [
        (False, False, {"demo"}),
        (True, False, {"demo", "ark"}),
        (False, True, {"demo", "visual"}),
        (True, True, {"demo", "ark", "visual"}),
    ],
)
def test_available_by_credentials(ark: bool, visual: bool, available: set[str]) -> None:
    catalog = Catalog.from_settings(make_settings(ark=ark, visual=visual))
    for model in catalog.all():
        assert catalog.available(model) == (model.provider in available)
        assert (catalog.unavailable_reason(model) is None) == (model.provider in available)


def test_visual_needs_both_keys() -> None:
    catalog = Catalog.from_settings(make_settings(volcengine_access_key="AK"))
    assert not catalog.available(catalog.get("jimeng_t2i_v30"))


def test_extra_models() -> None:
    assert parse_extra_models(["ep-1:My Endpoint", " ep-2 ", "", "ep-1:dup", ":nolabel"]) == [
        ("ep-1", "My Endpoint"),
        ("ep-2", "ep-2"),
    ]
    catalog = Catalog.from_settings(
        make_settings(ark=True, ark_extra_models="ep-1:My Endpoint,ep-2,doubao-seedream-4-0-250828")
    )
    ids = [m.id for m in catalog.all()]
    assert ids == [*ARK_IDS, "ep-1", "ep-2", *VISUAL_IDS, "demo"]
    extra, base = catalog.get("ep-1"), catalog.get("doubao-seedream-4-0-250828")
    assert (extra.label_en, extra.label_zh, extra.extra) == ("My Endpoint", "My Endpoint", True)
    assert catalog.get("ep-2").label_en == "ep-2"
    assert not base.extra
    for field in ("provider", "modes", "refs", "sizes", "seed", "guidance_scale", "optimize_prompt", "group", "streaming"):
        assert getattr(extra, field) == getattr(base, field), field
    # Validation treats it like Seedream 4.0.
    req = validate_request(extra, GenerateIn(prompt="p", size="1K").to_input(), mode="text2image", references=[], available=True)
    assert (req.model, req.size) == ("ep-1", "1K")


def test_concurrency_hint_comes_from_settings() -> None:
    catalog = Catalog.from_settings(make_settings(ark=True, visual_max_concurrency=3, ark_max_concurrency=5))
    assert catalog.get("jimeng_t2i_v40").max_concurrency == 3
    assert catalog.get("doubao-seedream-4-5-251128").max_concurrency == 5
    assert catalog.get("demo").max_concurrency is None


def test_to_public() -> None:
    catalog = Catalog.from_settings(make_settings(ark=True, ark_extra_models=["ep-9:Mine"]))
    public = public_catalog(catalog).model_dump(mode="json")
    assert public["default_model"] == "doubao-seedream-4-0-250828"
    models = {m["id"]: m for m in public["models"]}
    assert list(models) == [m.id for m in catalog.all()]

    s40 = models["doubao-seedream-4-0-250828"]
    assert s40["available"] is True and s40["unavailable_reason"] is None
    assert s40["label"] == {"zh": "豆包 Seedream 4.0", "en": "Seedream 4.0"}
    assert s40["modes"] == ["text2image", "image2image", "group"]
    assert s40["references"]["min"] == 1 and s40["references"]["max"] == 14
    assert s40["references"]["min_aspect"] == 0.0625 and s40["references"]["max_aspect"] == 16
    assert s40["size"]["levels"] == ["1K", "2K", "4K"]
    assert s40["size"]["min_pixels"] == 921600 and s40["size"]["max_pixels"] == 16777216
    assert s40["size"]["default"] == "2048x2048"
    assert {"label": "16:9", "width": 2560, "height": 1440} in s40["size"]["presets"]
    assert s40["params"] == {
        "seed": False,
        "guidance_scale": None,
        "strength": None,
        "negative_prompt": False,
        "watermark": True,
        "optimize_prompt": ["standard", "fast"],
        "num_images_max": 4,
        "group": {"max_images": 15, "max_total": 15},
        "streaming": True,
        "output_formats": [],
        "web_search": False,
        "layer_decomposition": False,
    }
    assert s40["sync"] is True and s40["extra"] is False
    assert s40["status"] == "active" and s40["provenance"]["checked_on"] == "2026-11-30"

    s30 = models["doubao-seedream-3-0-t2i-250415"]
    assert s30["params"]["guidance_scale"] == {"min": 1, "max": 10, "default": 2.5}
    assert s30["params"]["seed"] is True and s30["params"]["group"] is None
    assert s30["size"]["min_side"] == 512 and s30["size"]["max_side"] == 2048

    jimeng = models["jimeng_t2i_v40"]
    assert jimeng["available"] is False
    assert jimeng["unavailable_reason"]["en"].startswith("VOLCENGINE_ACCESS_KEY")
    assert "VOLCENGINE_SECRET_KEY" in jimeng["unavailable_reason"]["zh"]
    assert jimeng["sync"] is False
    assert models["high_aes_general_v30l_zt2i"]["sync"] is True

    assert models["ep-9"]["label"] == {"zh": "Mine", "en": "Mine"} and models["ep-9"]["extra"] is True
    assert models["demo"]["available"] is True
    assert models["demo"]["params"]["group"] == {"max_images": 4, "max_total": None}


def test_to_public_without_credentials() -> None:
    public = public_catalog(Catalog.from_settings(make_settings())).model_dump(mode="json")
    assert public["default_model"] == "demo"
    reasons = {m["id"]: m["unavailable_reason"] for m in public["models"]}
    assert reasons["doubao-seedream-4-5-251128"] == {"en": "ARK_API_KEY is not set.", "zh": "未配置 ARK_API_KEY。"}
    assert reasons["demo"] is None


# ---------------------------------------------------------------------------------------------
# Validation: happy paths for every model


HAPPY: list[tuple[str, Mode, int, dict[str, Any], dict[str, Any]]] = [
    # model, mode, refs, body, expected GenerationRequest fields
    ("doubao-seedream-4-5-251128", "text2image", 0, {}, {"width": 2048, "height": 2048, "size": None}),
    ("doubao-seedream-4-5-251128", "text2image", 0, {"size": "4k", "optimize_prompt": True}, {"size": "4K", "optimize_prompt": "standard"}),
    ("doubao-seedream-4-5-251128", "image2image", 14, {"size": "2560x1440"}, {"width": 2560, "height": 1440}),
    ("doubao-seedream-4-0-250828", "text2image", 0, {"size": "1280x720", "seed": -1, "watermark": True}, {"width": 1280, "height": 720, "seed": None, "watermark": True}),
    ("doubao-seedream-4-0-250828", "text2image", 0, {"group": {"max_images": 15}}, {"group_max_images": 15, "num_images": 1}),
    ("doubao-seedream-4-0-250828", "image2image", 3, {"group": {"max_images": 12}, "optimize_prompt": "fast"}, {"group_max_images": 12, "optimize_prompt": "fast"}),
    ("doubao-seedream-4-0-250828", "text2image", 0, {"num_images": 4, "width": 4096, "height": 4096}, {"num_images": 4, "width": 4096}),
    ("doubao-seedream-4-0-250828", "text2image", 0, {"size": "3840 x 240"}, {"width": 3840, "height": 240}),
    ("doubao-seedream-3-0-t2i-250415", "text2image", 0, {}, {"width": 1024, "height": 1024, "guidance_scale": 2.5, "seed": None}),
    ("doubao-seedream-3-0-t2i-250415", "text2image", 0, {"size": "512x2048", "seed": 42, "guidance_scale": 10}, {"width": 512, "height": 2048, "seed": 42, "guidance_scale": 10}),
    ("doubao-seededit-3-0-i2i-250628", "image2image", 1, {}, {"size": "adaptive", "width": None, "guidance_scale": 5.5, "strength": None}),
    ("doubao-seededit-3-0-i2i-250628", "image2image", 1, {"size": "Adaptive", "seed": 7, "guidance_scale": 1}, {"size": "adaptive", "seed": 7, "guidance_scale": 1}),
    ("jimeng_t2i_v40", "text2image", 0, {}, {"width": 2048, "height": 2048, "strength": None}),
    ("jimeng_t2i_v40", "text2image", 0, {"size": "4K", "seed": 1}, {"size": "4K", "seed": 1}),
    ("jimeng_t2i_v40", "image2image", 10, {"scale": 0.8, "group": {"max_images": 5}}, {"strength": 0.8, "group_max_images": 5}),
    ("jimeng_t2i_v40", "image2image", 2, {}, {"strength": 0.5}),
    ("jimeng_t2i_v31", "text2image", 0, {"optimize_prompt": True}, {"width": 1328, "height": 1328, "optimize_prompt": "standard"}),
    ("jimeng_t2i_v30", "text2image", 0, {"width": 1664, "height": 936, "watermark": True}, {"width": 1664, "height": 936, "watermark": True}),
    ("jimeng_i2i_v30", "image2image", 1, {}, {"size": "adaptive", "strength": 0.5}),
    ("jimeng_i2i_v30", "image2image", 1, {"size": "1536x512", "strength": 0.2}, {"width": 1536, "height": 512, "strength": 0.2}),
    ("seededit_v3.0", "image2image", 1, {"scale": 0.3, "seed": 9}, {"size": "adaptive", "strength": 0.3, "seed": 9}),
    ("high_aes_general_v30l_zt2i", "text2image", 0, {"guidance_scale": 3.5}, {"width": 1328, "height": 1328, "guidance_scale": 3.5}),
    ("high_aes_general_v21_L", "text2image", 0, {}, {"width": 512, "height": 512, "guidance_scale": 3.5}),
    ("demo", "text2image", 0, {}, {"width": 1024, "height": 1024, "guidance_scale": 5.0, "strength": None}),
    ("demo", "text2image", 0, {"size": "256x2048", "seed": 5, "negative_prompt": "blur", "num_images": 4}, {"width": 256, "height": 2048, "seed": 5, "negative_prompt": "blur", "num_images": 4}),
    ("demo", "image2image", 4, {"strength": 1, "group": {"max_images": 4}}, {"strength": 1, "group_max_images": 4}),
    ("demo", "text2image", 0, {"negative_prompt": "", "style_preset": "anime"}, {"negative_prompt": None, "style_preset": "anime"}),
]


@pytest.mark.parametrize(("model", "mode", "nrefs", "body", "expected"), HAPPY, ids=[f"{h[0]}-{i}" for i, h in enumerate(HAPPY)])
def test_valid_request(model: str, mode: Mode, nrefs: int, body: dict[str, Any], expected: dict[str, Any]) -> None:
    refs = [ref() for _ in range(nrefs)]
    req = check(model, mode=mode, refs=refs, **body)
    assert req.model == model and req.mode == mode and req.prompt == "a red fox in snow"
    assert req.references == tuple(refs)
    for field, value in expected.items():
        assert getattr(req, field) == value, field
    # A request always carries a size: a named level or both sides.
    assert (req.size is not None) != (req.width is not None and req.height is not None)


# ---------------------------------------------------------------------------------------------
# Validation: every rule, one failing case each


def test_unavailable_model() -> None:
    with pytest.raises(ModelUnavailable) as err:
        check("jimeng_t2i_v30", available=False)
    assert err.value.code == "model_unavailable" and err.value.status_code == 422
    assert err.value.details == {"field": "model", "model": "jimeng_t2i_v30", "provider": "visual"}
    assert err.value.message.startswith("Jimeng 3.0 (text-to-image) is not available")


FAIL: list[tuple[str, Mode, list[ReferenceImage], dict[str, Any], str, str]] = [
    # model, mode, refs, body, field, English message (substring)
    ("doubao-seedream-3-0-t2i-250415", "image2image", [ref()], {}, "mode",
     "Seedream 3.0 (text-to-image) does not support image-to-image. It supports text-to-image."),
    ("doubao-seededit-3-0-i2i-250628", "text2image", [], {}, "mode", "does not support text-to-image"),
    ("doubao-seedream-4-0-250828", "text2image", [ref()], {}, "images", "Text-to-image takes no reference images"),
    ("doubao-seedream-4-0-250828", "image2image", [], {}, "images", "Seedream 4.0 needs 1 to 14 reference images; got 0."),
    ("doubao-seedream-4-5-251128", "image2image", [ref()] * 15, {}, "images", "needs 1 to 14 reference images; got 15."),
    ("doubao-seededit-3-0-i2i-250628", "image2image", [ref(), ref()], {}, "images", "needs exactly 1 reference image; got 2."),
    ("jimeng_t2i_v40", "image2image", [ref()] * 11, {}, "images", "needs 1 to 10 reference images; got 11."),
    ("demo", "image2image", [ref()] * 5, {}, "images", "needs 1 to 4 reference images; got 5."),
    ("doubao-seededit-3-0-i2i-250628", "image2image", [ref(content_type="image/webp")], {}, "images",
     "Reference image 1: image/webp is not accepted by SeedEdit 3.0 (image edit); use JPEG, PNG."),
    ("doubao-seedream-4-0-250828", "image2image", [ref(), ref(20, 400)], {}, "images",
     "Reference image 2: the aspect ratio of 20x400 is outside 1:16 to 16:1"),
    ("doubao-seededit-3-0-i2i-250628", "image2image", [ref(1000, 3001)], {}, "images", "outside 1:3 to 3:1"),
    ("doubao-seedream-4-0-250828", "image2image", [ref(14, 100)], {}, "images", "14x100 is too small; each side must be at least 15 pixels."),
    ("doubao-seedream-4-0-250828", "image2image", [ref(7000, 6000)], {}, "images", "7000x6000 has more than the 36000000 pixels"),
    ("doubao-seedream-4-0-250828", "image2image", [ref(nbytes=10 * 1024 * 1024 + 1)], {}, "images", "larger than the 10 MB"),
    ("jimeng_t2i_v40", "image2image", [ref(4097, 2048)], {}, "images", "each side may be at most 4096 pixels"),
    ("doubao-seedream-4-0-250828", "text2image", [], {"size": "100x100"}, "size",
     "Size 100x100 is too small for Seedream 4.0: at least 921600 pixels (e.g. 1280x720)."),
    ("doubao-seedream-4-5-251128", "text2image", [], {"size": "2048x1024"}, "size",
     "Size 2048x1024 is too small for Seedream 4.5: at least 3686400 pixels (e.g. 2560x1440)."),
    ("doubao-seedream-4-0-250828", "text2image", [], {"size": "4096x4097"}, "size", "is too large for Seedream 4.0: at most 16777216 pixels"),
    ("doubao-seedream-4-0-250828", "text2image", [], {"size": "4080x240"}, "size",
     "Size 4080x240 has an aspect ratio outside 1:16 to 16:1"),
    ("doubao-seedream-4-5-251128", "text2image", [], {"size": "1K"}, "size",
     "Size '1K' is not valid for Seedream 4.5; use \"2K\" or \"4K\" or \"<width>x<height>\""),
    ("doubao-seedream-3-0-t2i-250415", "text2image", [], {"size": "big"}, "size", "use \"<width>x<height>\" (e.g. \"1024x1024\")"),
    ("doubao-seedream-3-0-t2i-250415", "text2image", [], {"size": "2049x1024"}, "size", "each side must be at most 2048 pixels"),
    ("doubao-seedream-3-0-t2i-250415", "text2image", [], {"width": 500, "height": 1024}, "width", "each side must be at least 512 pixels"),
    ("doubao-seedream-3-0-t2i-250415", "text2image", [], {"size": "1024x1024", "width": 1024, "height": 1024}, "size", "not both"),
    ("doubao-seedream-3-0-t2i-250415", "text2image", [], {"width": 1024}, "height", "Width and height must be given together."),
    ("doubao-seedream-3-0-t2i-250415", "text2image", [], {"height": 1024}, "width", "must be given together"),
    ("doubao-seededit-3-0-i2i-250628", "image2image", [ref()], {"size": "1024x1024"}, "size", "does not take a width and height"),
    ("seededit_v3.0", "image2image", [ref()], {"width": 1024, "height": 1024}, "width", "does not take a width and height"),
    ("jimeng_i2i_v30", "image2image", [ref()], {"size": "2048x2048"}, "size", "at most 1536 pixels"),
    ("doubao-seedream-4-5-251128", "text2image", [], {"seed": 42}, "seed", "Seedream 4.5 does not take a seed; remove seed."),
    ("doubao-seedream-4-0-250828", "text2image", [], {"guidance_scale": 5}, "guidance_scale", "does not take a guidance scale"),
    ("doubao-seedream-3-0-t2i-250415", "text2image", [], {"guidance_scale": 11}, "guidance_scale",
     "guidance_scale 11 is out of range for Seedream 3.0 (text-to-image): use 1 to 10 (default 2.5)."),
    ("doubao-seedream-3-0-t2i-250415", "text2image", [], {"guidance_scale": 0.5}, "guidance_scale", "use 1 to 10"),
    ("doubao-seedream-4-0-250828", "text2image", [], {"negative_prompt": "blurry"}, "negative_prompt", "does not take a negative prompt"),
    ("demo", "text2image", [], {"watermark": True}, "watermark", "Demo (offline) does not take a watermark"),
    ("doubao-seedream-4-5-251128", "text2image", [], {"optimize_prompt": "fast"}, "optimize_prompt",
     "Seedream 4.5 supports prompt optimisation mode standard, not 'fast'."),
    ("doubao-seedream-3-0-t2i-250415", "text2image", [], {"optimize_prompt": True}, "optimize_prompt", "does not take prompt optimisation"),
    ("doubao-seedream-3-0-t2i-250415", "text2image", [], {"group": {"max_images": 3}}, "group",
     "Seedream 3.0 (text-to-image) cannot generate image groups."),
    ("doubao-seedream-4-0-250828", "text2image", [], {"group": {"max_images": 3}, "num_images": 2}, "num_images",
     "num_images cannot be combined with group"),
    ("doubao-seedream-4-0-250828", "image2image", [ref()], {"group": {"max_images": 15}}, "group.max_images",
     "Reference images plus group images may not exceed 15: with 1 reference images, ask for at most 14."),
    ("jimeng_t2i_v40", "image2image", [ref()] * 10, {"group": {"max_images": 6}}, "group.max_images", "ask for at most 5"),
    ("demo", "text2image", [], {"group": {"max_images": 5}}, "group.max_images", "Demo (offline) makes at most 4 images in a group."),
    ("doubao-seededit-3-0-i2i-250628", "image2image", [ref()], {"strength": 0.5}, "strength",
     "SeedEdit 3.0 (image edit) does not take a strength (reference image weight); remove strength."),
    ("doubao-seededit-3-0-i2i-250628", "image2image", [ref()], {"scale": 0.5}, "scale", "remove scale"),
    ("seededit_v3.0", "image2image", [ref()], {"scale": 2}, "scale", "scale 2 is out of range for SeedEdit 3.0 (Visual API): use 0 to 1"),
    ("seededit_v3.0", "image2image", [ref()], {"strength": 0.2, "scale": 0.3}, "strength", "give only one"),
    ("jimeng_t2i_v30", "text2image", [], {"prompt": "x" * 801}, "prompt",
     "The prompt is 801 characters long; Jimeng 3.0 (text-to-image) accepts at most 800."),
]


@pytest.mark.parametrize(("model", "mode", "refs", "body", "field", "message"), FAIL, ids=[f"{f[4]}-{i}" for i, f in enumerate(FAIL)])
def test_invalid_request(
    model: str, mode: Mode, refs: list[ReferenceImage], body: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(InvalidRequest) as err:
        check(model, mode=mode, refs=refs, **body)
    assert err.value.code == "invalid_request" and err.value.status_code == 422
    assert err.value.details["field"] == field
    assert message in err.value.message
    # Every refusal has its own Chinese sentence.
    assert err.value.message_zh != err.value.message
    assert any("\u4e00" <= ch <= "\u9fff" for ch in err.value.message_zh)


def test_identical_strength_and_scale_are_accepted() -> None:
    assert check("seededit_v3.0", mode="image2image", refs=[ref()], strength=0.4, scale=0.4).strength == 0.4


def test_chinese_message_example() -> None:
    with pytest.raises(InvalidRequest) as err:
        check("doubao-seedream-4-0-250828", size="100x100")
    assert err.value.message_zh == "尺寸 100x100 对 豆包 Seedream 4.0 来说过小：总像素至少 921600（如 1280x720）。"


def test_reference_error_names_its_index() -> None:
    with pytest.raises(InvalidRequest) as err:
        check("doubao-seedream-4-0-250828", mode="image2image", refs=[ref(), ref(), ref(10, 10)])
    assert err.value.details == {"field": "images", "index": 2}
    assert err.value.message_zh.startswith("第 3 张参考图")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1024x768", (1024, 768)), ("1024X768", (1024, 768)), (" 64 × 32 ", (64, 32)), ("2K", None), ("x", None), ("-1x5", None)],
)
def test_parse_size(value: str, expected: tuple[int, int] | None) -> None:
    assert parse_size(value) == expected
