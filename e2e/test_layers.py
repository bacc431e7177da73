"""Layered images (issue 17 item 2c) on the real stack: a layered generation on the demo provider
from the form, a layer toggled off and on in the result card's panel, the ZIP downloaded and read;
and a layered image from the fake Ark served through nginx (names, boxes, the per-member check)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, expect

from .conftest import Stack
from .test_ui import prompt_box

CARDS = "[data-testid=task-card]"
PRO = "doubao-seedream-5-0-pro-260628"


def _loaded(page: Page, selector: str) -> int:
    """How many of the matching images have decoded pixels."""
    return int(page.evaluate(
        "(s) => [...document.querySelectorAll(s)].filter((i) => i.complete && i.naturalWidth > 0).length", selector
    ))


def test_a_demo_layered_image_toggles_its_layers_and_downloads_as_a_zip(
    page: Page, stack: Stack, screenshots: Path, tmp_path: Path
) -> None:
    page.goto("/?model=demo")
    prompt_box(page).fill("a lighthouse in layers, e2e layers")
    field = page.locator("[data-testid=layers-field]")
    expect(field).to_contain_text("分层")
    page.locator("[data-testid=layers-switch]").click()
    page.locator("[data-testid=generate-button]").click()
    card = page.locator(f"{CARDS}[data-status=completed]").first
    expect(card).to_be_visible(timeout=30_000)

    card.locator("[data-testid=result-layers]").click()
    panel = card.locator("[data-testid=layer-panel]")
    expect(panel.locator("[data-testid=layer-row]")).to_have_count(4)  # three layers and the base
    stacked = panel.locator("[data-testid=layer-stage-layer]")
    expect(stacked).to_have_count(3)
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=layer-stage-layer], [data-testid=layer-stage-base]')]"
        ".every((i) => i.complete && i.naturalWidth > 0)"
    )
    assert _loaded(page, "[data-testid=layer-stage-layer]") == 3
    expect(panel).to_contain_text("DEMO 文字 / text")
    expect(panel.locator(".demo-badge")).to_be_visible()
    panel.screenshot(path=str(screenshots / "layer-panel-zh-light.png"))

    # The top layer off: its image leaves the composite, the others stay; then back on.
    top = panel.locator("[data-testid=layer-row]").first
    layer_id = top.get_attribute("data-layer-id")
    layer_img = panel.locator(f"[data-testid=layer-stage-layer][data-layer-id='{layer_id}']")
    expect(layer_img).to_be_visible()
    top.locator("[data-testid=layer-visible]").uncheck()
    expect(layer_img).to_be_hidden()
    expect(panel.locator("[data-testid=layer-stage-layer]:visible")).to_have_count(2)
    panel.screenshot(path=str(screenshots / "layer-panel-one-hidden-zh-light.png"))
    top.locator("[data-testid=layer-visible]").check()
    expect(layer_img).to_be_visible()

    with page.expect_download() as info:
        panel.locator("[data-testid=layer-zip]").click()
    download = info.value
    assert download.suggested_filename.endswith("_layers.zip")
    saved = tmp_path / "layers.zip"
    download.save_as(saved)
    archive = zipfile.ZipFile(saved)
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["demo"] is True and len(manifest["layers"]) == 3
    assert [entry["z_index"] for entry in manifest["layers"]] == [1, 2, 3]
    for entry in manifest["layers"]:
        with Image.open(io.BytesIO(archive.read(entry["file"]))) as im:
            assert im.mode == "RGBA"
            x0, y0, x1, y1 = entry["bounding_box"]["absolute"]
            assert im.getchannel("A").getbbox() == (x0, y0, x1, y1)


def test_an_ark_layered_image_is_served_through_nginx(stack: Stack) -> None:
    task = stack.generate("a poster in layers, e2e ark layers", model=PRO, size="1024x1024", layer_decomposition=True)
    image_id = task["outputs"][0]["id"]
    status, _, raw = stack.get(f"/api/v1/images/{image_id}/layers")
    assert status == 200, raw
    layered = json.loads(raw)
    assert len(layered["layers"]) == 3 and layered["is_demo"] is False
    for layer in layered["layers"]:
        assert layer["name"] and layer["box"] and layer["full_canvas"] is False
        status, headers, data = stack.get(layer["url"])
        assert status == 200 and headers["Content-Type"] == "image/png"
        with Image.open(io.BytesIO(data)) as im:
            assert im.mode == "RGBA"
            x0, y0, x1, y1 = layer["box"]
            assert im.size == (x1 - x0, y1 - y0)
        assert stack.get(layer["thumbnail_url"])[0] == 200
    status, headers, data = stack.get(layered["zip_url"])
    assert status == 200 and headers["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert "manifest.json" in names and len(names) == 5
