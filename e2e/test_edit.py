"""Editing in the browser (issue 17 items 3-8) and comparing (issue 15 item 10), on the real stack
with the demo provider: paint a mask with the pointer, inpaint, see the result and its parent;
outpaint and upscale; compare two History pictures with the keyboard. Screenshots of the new
screens (zh/en, light/dark, desktop/phone) go to e2e/artifacts/screenshots; axe-core checks them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .conftest import Stack
from .test_accessibility import axe_findings
from .test_ui import DESKTOP, PHONE, set_language_and_theme


def first_image(task: dict) -> dict:
    return sorted(task["outputs"], key=lambda o: o["index"])[0]


def paint_stroke(page: Page) -> None:
    """A real pointer drag across the middle of the mask canvas (mouse events become pointer events)."""
    canvas = page.locator("[data-testid=mask-canvas]")
    expect(canvas).to_be_visible()
    box = canvas.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.3, y)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(box["x"] + box["width"] * (0.3 + 0.04 * step), y, steps=2)
    page.mouse.up()


def painted_fraction(page: Page) -> float:
    """How much of the source-sized mask is marked, read from the canvas the brush drew on."""
    return page.evaluate(
        """() => {
            const c = document.querySelector('[data-testid=mask-canvas]');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let on = 0;
            for (let i = 3; i < d.length; i += 4) if (d[i] > 0) on++;
            return on / (c.width * c.height);
        }"""
    )


def wait_for_result(page: Page) -> None:
    result = page.locator("[data-testid=edit-result]")
    expect(result).to_be_visible(timeout=30_000)
    expect(result.locator("[data-testid=compare]")).to_be_visible(timeout=60_000)


def test_inpaint_from_history_with_a_painted_mask(page: Page, stack: Stack, screenshots: Path) -> None:
    parent = stack.generate("a quiet harbour, e2e inpaint", model="demo")
    image = first_image(parent)
    page.set_viewport_size(DESKTOP)
    page.goto(f"/history/{parent['task_id']}")
    detail = page.locator("[data-testid=history-detail]")
    expect(detail).to_be_visible()
    # the lightbox offers the same menu
    detail.locator(".history-detail__image").click()
    viewer_menu = page.locator("[data-testid=viewer-edit] [data-testid=edit-menu]")
    viewer_menu.click()
    expect(page.locator("[data-testid=viewer-edit] [data-testid=edit-menu-upscale]")).to_have_attribute(
        "href", f"/edit/{parent['task_id']}/{image['index']}?op=upscale"
    )
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    expect(page.locator("[data-testid=viewer-edit]")).to_have_count(0)
    detail.locator("[data-testid=edit-menu]").click()
    page.locator("[data-testid=edit-menu-inpaint]").click()
    expect(page).to_have_url(f"{stack.base_url}/edit/{parent['task_id']}/{image['index']}?op=inpaint")

    canvas = page.locator("[data-testid=mask-canvas]")
    expect(canvas).to_have_attribute("width", str(image["width"]))
    expect(canvas).to_have_attribute("height", str(image["height"]))
    # without a mask, the UI says what is missing and sends nothing
    page.locator("[data-testid=edit-submit]").click()
    expect(page.locator("[data-testid=edit-error]")).to_have_text("请先用画笔涂出要编辑的区域。")

    paint_stroke(page)
    assert painted_fraction(page) > 0.01
    page.locator("[data-testid=mask-undo]").click()
    assert painted_fraction(page) == 0
    page.locator("[data-testid=mask-redo]").click()
    assert painted_fraction(page) > 0.01
    page.locator("textarea[data-testid=edit-prompt]").fill("a red lighthouse")
    page.screenshot(path=str(screenshots / "edit-inpaint-zh-light-desktop.png"))

    with page.expect_response(lambda r: "/api/v1/edit/inpaint" in r.url) as answer:
        page.locator("[data-testid=edit-submit]").click()
    assert answer.value.status == 202, answer.value.text()
    wait_for_result(page)
    page.screenshot(path=str(screenshots / "edit-inpaint-result-zh-light-desktop.png"))

    # the result in History says what it was made from, with a link back
    page.locator("[data-testid=edit-result-link]").click()
    lineage = page.locator("[data-testid=lineage]")
    expect(lineage).to_be_visible()
    expect(lineage.locator("[data-testid=lineage-parent]")).to_have_attribute("href", f"/history/{parent['task_id']}")
    lineage.locator("[data-testid=lineage-compare]").click()
    expect(lineage.locator("[data-testid=compare]")).to_be_visible()
    page.screenshot(path=str(screenshots / "history-lineage-zh-light-desktop.png"))
    lineage.locator("[data-testid=lineage-parent]").click()
    expect(page).to_have_url(f"{stack.base_url}/history/{parent['task_id']}")


def test_outpaint_and_upscale_on_the_demo_provider(page: Page, stack: Stack, screenshots: Path) -> None:
    parent = stack.generate("a meadow, e2e outpaint", model="demo")
    image = first_image(parent)
    page.set_viewport_size(DESKTOP)
    page.goto(f"/edit/{parent['task_id']}/{image['index']}?op=outpaint")
    page.locator("[data-testid=outpaint-aspect-16x9]").click()
    size = page.locator("[data-testid=outpaint-size]")
    expect(size).to_contain_text(f"{image['width']} × {image['height']}")
    page.locator("[data-testid=outpaint-top]").fill("10")
    page.locator("[data-testid=outpaint-top]").dispatch_event("change")
    page.screenshot(path=str(screenshots / "edit-outpaint-zh-light-desktop.png"))
    with page.expect_response(lambda r: "/api/v1/edit/outpaint" in r.url) as answer:
        page.locator("[data-testid=edit-submit]").click()
    assert answer.value.status == 202, answer.value.text()
    body = json.loads(answer.value.request.post_data or "{}")
    assert body["expand"]["top"] == 0.1 and body["expand"]["left"] > 0
    wait_for_result(page)
    result_size = page.locator("[data-testid=edit-result-size]").inner_text()
    w, h = (int(x) for x in result_size.split("×"))
    assert w > image["width"] and h > image["height"]

    page.locator("[data-testid=edit-op-upscale]").click()
    # 4K: a 4096-pixel long side, the aspect kept
    scale = 4096 / max(image["width"], image["height"])
    expected = f"{round(image['width'] * scale)} × {round(image['height'] * scale)}"
    expect(page.locator("[data-testid=upscale-size]")).to_contain_text(expected)
    with page.expect_response(lambda r: "/api/v1/edit/upscale" in r.url) as answer:
        page.locator("[data-testid=edit-submit]").click()
    assert answer.value.status == 202, answer.value.text()
    wait_for_result(page)
    expect(page.locator("[data-testid=edit-result-size]")).to_have_text(expected)
    page.screenshot(path=str(screenshots / "edit-upscale-result-zh-light-desktop.png"))
    # History filters by operation
    page.goto("/history?operation=upscale")
    expect(page.locator("[data-testid=history-operation]")).to_have_value("upscale")
    expect(page.locator("[data-testid=history-item]")).to_have_count(1)


def test_erase_on_an_uploaded_picture(page: Page, stack: Stack, tmp_path: Path) -> None:
    made = stack.generate("a pebble beach, e2e upload source", model="demo")
    image = first_image(made)
    status, _, data = stack.get(image["url"])
    assert status == 200
    picture = tmp_path / "beach.png"
    picture.write_bytes(data)
    page.set_viewport_size(DESKTOP)
    page.goto("/")
    page.locator("[data-testid=nav-edit]").click()
    page.locator("[data-testid=edit-op-erase]").click()
    page.locator("[data-testid=edit-file]").set_input_files(str(picture))
    canvas = page.locator("[data-testid=mask-canvas]")
    expect(canvas).to_have_attribute("width", str(image["width"]))
    # erase takes no prompt
    expect(page.locator("textarea[data-testid=edit-prompt]")).to_have_count(0)
    paint_stroke(page)
    with page.expect_response(lambda r: "/api/v1/edit/erase" in r.url) as answer:
        page.locator("[data-testid=edit-submit]").click()
    assert answer.value.status == 202, answer.value.text()
    body = json.loads(answer.value.request.post_data or "{}")
    assert set(body) == {"source", "mask", "model"} and "upload_id" in body["source"], body
    wait_for_result(page)
    # made from an upload: History says so instead of linking a parent
    page.locator("[data-testid=edit-result-link]").click()
    expect(page.locator("[data-testid=lineage-upload]")).to_be_visible()


def test_compare_two_history_pictures_with_the_keyboard(page: Page, stack: Stack, screenshots: Path) -> None:
    a = stack.generate("a red apple, e2e compare", model="demo")
    b = stack.generate("a green pear, e2e compare", model="demo")
    page.set_viewport_size(DESKTOP)
    page.goto("/history")
    page.locator("[data-testid=history-select]").click()
    compare = page.locator("[data-testid=bulk-compare]")
    expect(compare).to_be_disabled()
    for task in (a, b):
        page.locator(f"[data-task-id='{task['task_id']}'] .history-card__check").click()
    expect(compare).to_be_enabled()
    compare.click()
    dialog = page.locator("[data-testid=compare-dialog]")
    expect(dialog).to_be_visible()
    divider = dialog.locator("[data-testid=compare-divider]")
    expect(divider).to_have_attribute("aria-valuenow", "50")
    divider.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    expect(divider).to_have_attribute("aria-valuenow", "53")
    page.keyboard.press("Shift+ArrowLeft")
    expect(divider).to_have_attribute("aria-valuenow", "43")
    page.keyboard.press("Home")
    expect(divider).to_have_attribute("aria-valuenow", "0")
    # a drag moves it too
    frame = dialog.locator("[data-testid=compare]")
    box = frame.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    assert 70 <= float(divider.get_attribute("aria-valuenow") or 0) <= 80
    page.screenshot(path=str(screenshots / "compare-zh-light-desktop.png"))
    assert not axe_findings(page), "compare dialog"


@pytest.mark.parametrize("device", ["desktop", "phone"])
@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_edit_screens_look_right_and_pass_axe(page: Page, stack: Stack, screenshots: Path, lang: str, theme: str, device: str) -> None:
    parent = stack.generate(f"a windmill ({lang}, {theme}, {device}), e2e edit screens", model="demo")
    image = first_image(parent)
    page.set_viewport_size(DESKTOP if device == "desktop" else PHONE)
    page.goto("/")
    set_language_and_theme(page, lang, theme)
    found: dict[str, list[dict]] = {}
    for op in ("inpaint", "erase", "outpaint", "upscale"):
        page.goto(f"/edit/{parent['task_id']}/{image['index']}?op={op}")
        expect(page.locator(f"[data-testid=edit-op-{op}]")).to_have_attribute("aria-pressed", "true")
        if op in ("inpaint", "erase"):
            paint_stroke(page)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(300)
        page.screenshot(path=str(screenshots / f"edit-{op}-{lang}-{theme}-{device}.png"), full_page=True)
        if findings := axe_findings(page):
            found[op] = findings
    page.goto("/edit")
    expect(page.locator("[data-testid=edit-file]")).to_be_attached()
    if findings := axe_findings(page):
        found["pick"] = findings
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)
