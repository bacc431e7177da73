"""Edit operations as catalogue data: the shipped entries with their provenance, a user file that
adds an edit-only model, and the schema's refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.providers.base import GenerationRequest, ReferenceImage
from app.providers.catalog.builtin import BUILTIN_MODELS
from app.providers.catalog.files import CatalogFileError, load_specs
from app.providers.visual_edits import build_edit_body
from tests.conftest import Studio

EDIT_ONLY = """
[[models]]
id = "my_eraser"
provider = "visual"
checked_on = 2026-12-01
source = "https://example.com/eraser"
label = { zh = "我的消除", en = "My eraser" }
description = { zh = "只做消除", en = "Erase only" }
sizes = { levels = ["adaptive"], custom = false, default = "adaptive" }
visual = { sync = false }

[[models.edit]]
operation = "erase"
req_key = "my_erase_key"
fixed_prompt = "remove"
prompt = "none"
max_side = 2048
max_mb = 2
"""


def test_shipped_edit_operations_carry_their_source_and_date() -> None:
    by_id = {spec.id: spec for spec in BUILTIN_MODELS}
    jimeng = by_id["jimeng_t2i_v40"]
    ops = {op.name: op for op in jimeng.edit_operations}
    assert set(ops) == {"inpaint", "erase", "outpaint", "upscale"}
    assert ops["inpaint"].req_key == ops["erase"].req_key == "jimeng_image2image_dream_inpaint"
    assert ops["outpaint"].req_key == "jimeng_img2img_seed3_painting_edit"
    assert ops["upscale"].req_key == "jimeng_i2i_seed3_tilesr_cvtob"
    assert ops["inpaint"].source == "https://www.volcengine.com/docs/85621/1976207"
    assert ops["outpaint"].source == ops["upscale"].source == "reported"
    assert all(op.checked_on == "2026-11-30" and op.notes for op in ops.values())
    assert ops["erase"].fixed_prompt == "删除" and ops["inpaint"].prompt == "required"
    assert dict(ops["upscale"].resolutions) == {"4k": 4096, "8k": 8192}
    assert ops["inpaint"].max_side == 4096 and ops["inpaint"].content_types == ("image/jpeg", "image/png")
    demo = by_id["demo"]
    assert {op.name for op in demo.edit_operations} == set(ops)


def test_a_user_file_adds_an_edit_only_model(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(EDIT_ONLY, encoding="utf-8")
    spec = next(s for s in load_specs(path) if s.id == "my_eraser")
    assert spec.modes == frozenset() and spec.user_defined
    [op] = spec.edit_operations
    assert (op.name, op.req_key, op.fixed_prompt, op.max_side, op.max_bytes) == ("erase", "my_erase_key", "remove", 2048, 2 * 1024 * 1024)
    source = ReferenceImage(b"\x89PNG", "image/png", 10, 10)
    request = GenerationRequest(model="my_eraser", mode="edit", prompt="remove", seed=4, references=(source, source),
                                operation="erase", edit_req_key="my_erase_key")
    body = build_edit_body(request, seed=4)
    assert body["req_key"] == "my_erase_key" and body["prompt"] == "remove" and len(body["binary_data_base64"]) == 2


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('operation = "erase"', 'operation = "smudge"'), "field edit.0.operation: Input should be"),
        (('operation = "erase"', 'operation = "upscale"'), "an upscale needs resolutions"),
        (('prompt = "none"', 'prompt = "sometimes"'), "field edit.0.prompt"),
        (('provider = "visual"\nchecked_on', 'provider = "ark"\nchecked_on'), 'a [visual] table only applies'),
        (('sizes = {', 'capabilities = ["text2image"]\nsizes = {'), None),
        (('max_mb = 2', 'max_mb = 2\nresolutions = { "4k" = 4096 }'), "resolutions only apply to upscale"),
        (('visual = { sync = false }\n', 'visual = { sync = false }\n'), None),
    ],
)
def test_edit_schema_errors_name_the_field(tmp_path: Path, change: tuple[str, str], expected: str | None) -> None:
    path = tmp_path / "models.toml"
    path.write_text(EDIT_ONLY.replace(*change), encoding="utf-8")
    if expected is None:
        load_specs(path)
        return
    with pytest.raises(CatalogFileError) as info:
        load_specs(path)
    assert expected in str(info.value), str(info.value)


def test_a_model_needs_capabilities_or_edits(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(EDIT_ONLY.split("[[models.edit]]")[0], encoding="utf-8")
    with pytest.raises(CatalogFileError, match="a model needs capabilities or"):
        load_specs(path)


async def test_the_models_route_lists_each_operations_rules(studio: Studio) -> None:
    models = {m["id"]: m for m in (await studio.client.get("/api/v1/models")).json()["models"]}
    ops = {op["operation"]: op for op in models["jimeng_t2i_v40"]["edit_operations"]}
    assert ops["inpaint"]["prompt"] == "required" and ops["inpaint"]["mask"] is True
    assert ops["erase"]["prompt"] == "none" and ops["upscale"]["mask"] is False
    assert ops["outpaint"]["max_expand"] == 1.0 and ops["outpaint"]["max_aspect"] == 16.0
    assert ops["inpaint"]["max_expand"] is None
    assert ops["upscale"]["resolutions"] == [{"resolution": "4k", "long_side": 4096}, {"resolution": "8k", "long_side": 8192}]
    assert ops["inpaint"]["max_side"] == 4096 and ops["inpaint"]["formats"] == ["jpeg", "png"]
    assert ops["inpaint"]["provenance"] == {"checked_on": "2026-11-30", "source": "https://www.volcengine.com/docs/85621/1976207"}
    demo_ops = {op["operation"]: op for op in models["demo"]["edit_operations"]}
    assert demo_ops["upscale"]["provenance"] == {"checked_on": "2026-11-30", "source": "builtin"}
    assert models["doubao-seedream-4-0-250828"]["edit_operations"] == []
