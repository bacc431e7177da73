"""The catalogue as data: the shipped models.toml, its schema, and a user MODELS_FILE over it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core.errors import InvalidRequest
from app.providers.base import GenerationRequest
from app.providers.catalog.builtin import BUILTIN_MODELS
from app.providers.catalog.files import BUILTIN_FILE, CatalogFileError, load_specs
from app.providers.catalog.lookup import Catalog
from app.providers.catalog.validation import GenerationInput, validate_request
from app.providers.visual import build_body as visual_body
from tests.providers.test_catalog import make_settings

NEW_ARK_MODEL = """
[[models]]
id = "doubao-seedream-9-9-991231"
provider = "ark"
checked_on = 2026-12-01
source = "https://example.com/seedream-9"
label = { zh = "豆包 Seedream 9.9", en = "Seedream 9.9" }
description = { zh = "测试模型", en = "A test model" }
capabilities = ["text2image", "image2image"]
sizes = { levels = ["2K"], min_pixels = 921600, max_pixels = 4194304, default = "2K" }
references = { min = 1, max = 3 }
options = { watermark = true, output_formats = ["png"] }
"""


def write(tmp_path: Path, text: str, name: str = "models.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_file_holds_every_model_with_provenance() -> None:
    ids = [spec.id for spec in BUILTIN_MODELS]
    assert len(ids) == len(set(ids))
    for spec in BUILTIN_MODELS:
        assert spec.checked_on == "2026-11-30", spec.id
        assert spec.source.startswith("https://") or spec.source in ("reported", "builtin"), spec.id
        assert not spec.user_defined
    assert {s.id for s in BUILTIN_MODELS if s.status == "retired"} == {"doubao-seedream-3-0-t2i-250415"}


def test_a_user_file_adds_a_model_without_code(tmp_path: Path) -> None:
    catalog = Catalog.from_settings(make_settings(ark=True, models_file=write(tmp_path, NEW_ARK_MODEL)))
    spec = catalog.get("doubao-seedream-9-9-991231")
    assert spec.user_defined and spec.provider == "ark" and spec.output_formats == ("png",)
    assert spec.refs.max_count == 3 and spec.sizes.levels == ("2K",)
    ids = [s.id for s in catalog.all()]
    # Grouped with its provider, after the shipped Ark models and before Visual.
    assert ids.index("doubao-seedream-9-9-991231") == ids.index("doubao-seededit-3-0-i2i-250628") + 1
    request = validate_request(spec, GenerationInput(prompt="x", output_format="png"), mode="text2image",
                               references=(), available=True)
    assert request.size == "2K" and request.output_format == "png"


def test_a_user_file_overrides_only_the_fields_it_names(tmp_path: Path) -> None:
    path = write(tmp_path, """
[[models]]
id = "doubao-seedream-4-5-251128"
status = "retired"
prompt_max_length = 100
sizes = { max_pixels = 8388608 }
options = { optimize_prompt = [] }
""")
    spec = Catalog.from_settings(make_settings(ark=True, models_file=path)).get("doubao-seedream-4-5-251128")
    assert spec.status == "retired" and spec.prompt_max_length == 100 and spec.user_defined
    assert spec.sizes.max_pixels == 8_388_608
    # Untouched fields of the same tables keep the shipped values.
    assert spec.sizes.min_pixels == 3_686_400 and spec.sizes.levels == ("2K", "4K")
    assert spec.watermark is True and spec.optimize_prompt == ()
    with pytest.raises(InvalidRequest) as info:
        validate_request(spec, GenerationInput(prompt="x" * 101), mode="text2image", references=(), available=True)
    assert info.value.details["field"] == "prompt"


def test_a_json_user_file_works_too(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps({"models": [{"id": "jimeng_t2i_v40", "references": {"max": 4}}]}), "m.json")
    assert Catalog.from_settings(make_settings(models_file=path)).get("jimeng_t2i_v40").refs.max_count == 4


def test_ark_extra_models_still_follow_seedream_40(tmp_path: Path) -> None:
    catalog = Catalog.from_settings(make_settings(ark=True, ark_extra_models=["ep-1:Mine"],
                                                  models_file=write(tmp_path, NEW_ARK_MODEL)))
    extra = catalog.get("ep-1")
    assert extra.extra and extra.label_en == "Mine"
    assert extra.sizes == catalog.get("doubao-seedream-4-0-250828").sizes


def test_a_visual_model_added_by_file_gets_its_body_from_the_data(tmp_path: Path) -> None:
    path = write(tmp_path, """
[[models]]
id = "jimeng_future_v9"
provider = "visual"
checked_on = 2026-12-01
source = "reported"
label = { zh = "即梦 9", en = "Jimeng 9" }
description = { zh = "测试", en = "Test" }
capabilities = ["text2image", "image2image"]
sizes = { min_side = 512, max_side = 2048, default = "1024x1024" }
references = { min = 1, max = 2 }
options = { strength = { min = 0.01, max = 1, default = 0.3 } }
visual = { sync = false, strength_param = "ratio", strength_percent = true, fixed = { version = "v9" } }
""")
    spec = Catalog.from_settings(make_settings(visual=True, models_file=path)).get("jimeng_future_v9")
    request = GenerationRequest(model=spec.id, mode="image2image", prompt="p", width=1024, height=768, strength=0.42)
    assert visual_body(request, seed=7, spec=spec) == {
        "req_key": "jimeng_future_v9", "prompt": "p", "seed": 7, "width": 1024, "height": 768, "ratio": 42,
        "version": "v9",
    }


def test_jimeng_46_sends_scale_as_a_percentage() -> None:
    request = GenerationRequest(model="jimeng_seedream46_cvtob", mode="image2image", prompt="p", size="2K",
                                strength=0.5)
    body = visual_body(request, seed=None)
    assert body["scale"] == 50 and body["size"] == 4_194_304 and body["force_single"] is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A misspelt field is named, with the model and the file.
        (NEW_ARK_MODEL.replace("watermark = true", "watermrk = true"),
         "model 'doubao-seedream-9-9-991231': field options.watermrk: Extra inputs are not permitted"),
        (NEW_ARK_MODEL.replace('provider = "ark"', 'provider = "openai"'),
         "model 'doubao-seedream-9-9-991231': field provider:"),
        (NEW_ARK_MODEL.replace("min_pixels = 921600", "min_pixels = 9000000"),
         "field sizes: Value error, min_pixels is larger than max_pixels"),
        (NEW_ARK_MODEL.replace('default = "2K"', 'default = "8K"'),
         "field sizes: Value error, default '8K' is neither one of the levels nor a WxH size"),
        (NEW_ARK_MODEL.replace('capabilities = ["text2image", "image2image"]', 'capabilities = ["text2image", "group"]'),
         "the group capability and the [group] table go together"),
        (NEW_ARK_MODEL.replace("checked_on = 2026-12-01\n", ""), "field checked_on: Field required"),
        (NEW_ARK_MODEL.replace('output_formats = ["png"]', 'output_formats = ["gif"]'),
         "field options.output_formats.0: Input should be 'jpeg' or 'png'"),
        (NEW_ARK_MODEL + 'min_aspect = "wide"\n', "field min_aspect: Extra inputs are not permitted"),
        ('[[models]]\nid = "jimeng_t2i_v40"\nsizes = { min_aspect = "1:0" }\n',
         "model 'jimeng_t2i_v40': field sizes.min_aspect: Value error, '1:0' is not a ratio"),
        ('[[models]]\nid = "jimeng_t2i_v40"\nsizes = { preset_sets = ["nope"] }\n',
         "model 'jimeng_t2i_v40': field sizes.preset_sets: unknown preset set(s) ['nope']"),
        ('[[models]]\nprovider = "ark"\n', "models[0]: field id: every model needs a string id"),
        (NEW_ARK_MODEL + NEW_ARK_MODEL, "model 'doubao-seedream-9-9-991231': listed twice"),
        ("[[models]\n", "not valid TOML"),
        ("[pricing]\n", "unknown top-level key(s) ['pricing']"),
    ],
)
def test_schema_errors_name_the_file_model_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CatalogFileError) as info:
        load_specs(path)
    message = str(info.value)
    assert expected in message
    assert message.startswith(str(path)), message


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CatalogFileError, match="missing.toml: cannot be read"):
        load_specs(tmp_path / "missing.toml")


def test_the_app_refuses_to_start_on_a_bad_models_file(tmp_path: Path) -> None:
    bad = write(tmp_path, NEW_ARK_MODEL.replace("watermark = true", "watermark = 3"))
    with pytest.raises(CatalogFileError, match="options.watermark"):
        Catalog.from_settings(make_settings(models_file=bad))


def test_the_settings_take_models_file_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.core.config import Settings

    monkeypatch.setenv("MODELS_FILE", str(tmp_path / "x.toml"))
    assert Settings(_env_file=None).models_file == tmp_path / "x.toml"  # type: ignore[call-arg]
    monkeypatch.setenv("MODELS_FILE", "")
    assert Settings(_env_file=None).models_file is None  # type: ignore[call-arg]



def test_builtin_file_is_next_to_the_code() -> None:
    assert BUILTIN_FILE.name == "models.toml" and BUILTIN_FILE.exists()
