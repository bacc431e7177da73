"""The library (issue 15, items 7, 8, 11 and the rest of 9): rate and collect in History, filter by
both, zip a collection; insert a past prompt and a template; save a reference set and reuse it;
drag a History image onto the reference area; the prompt on the cards and the folded filters on a
phone. Screenshots of the new screens (zh/en, light/dark, desktop/phone) with an axe-core pass."""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .conftest import Stack
from .test_accessibility import axe_findings
from .test_ui import ARK_MODEL, DESKTOP, PHONE, prompt_box, set_language_and_theme

ITEMS = "[data-testid=history-item]"


def tag() -> str:
    return f"lib{int(time.time() * 1000)}"


def open_detail(page: Page, task_id: str) -> None:
    page.goto(f"/history/{task_id}")
    expect(page.locator("[data-testid=history-detail]")).to_be_visible()


def test_rate_collect_filter_and_zip_a_collection(page: Page, stack: Stack) -> None:
    mark = tag()
    first = stack.generate(f"{mark} a heron at dawn")
    second = stack.generate(f"{mark} a heron at dusk")
    stack.generate(f"{mark} a gull, not collected")

    # The detail: 4 stars with the keyboard, then into a new collection from its menu.
    open_detail(page, first["task_id"])
    page.keyboard.press("4")
    expect(page.locator("[data-testid=star-4]")).to_have_attribute("aria-checked", "true")
    page.locator("[data-testid=collection-menu]").click()
    page.locator("[data-testid=collection-new]").click()
    name = f"Herons {mark}"
    page.locator(".el-message-box input").fill(name)
    page.locator(".el-message-box__btns .el-button--primary").click()
    chip = page.locator("[data-testid=detail-collection]")
    expect(chip).to_have_text(name)

    # History: the second one by multi-select into the same collection.
    page.goto(f"/history?q={mark}")
    expect(page.locator(ITEMS)).to_have_count(3)
    page.locator("[data-testid=history-select]").click()
    page.locator(f"{ITEMS}[data-task-id='{second['task_id']}'] .history-card__check").click()
    page.locator(".selection-bar [data-testid=collection-menu]").click()
    page.locator(f"[data-testid=collection-option][data-name='{name}']:visible").click()
    expect(page.locator(".el-message--success").last).to_contain_text("已将 1 项加入")

    # Filter by the collection (kept in the URL), then by rating as well.
    page.goto("/history")
    collection_select = page.locator("select[data-testid=history-collection]")
    collection_select.select_option(label=f"{name} (2)")
    expect(page).to_have_url(re.compile(r"collection=[0-9a-f]{32}"))
    expect(page.locator(ITEMS)).to_have_count(2)
    expect(page.locator(f"{ITEMS}[data-task-id='{first['task_id']}'] [data-testid=history-rating]")).to_have_text("★4")
    page.locator("select[data-testid=history-rating]").select_option("4")
    expect(page).to_have_url(re.compile(r"rating=4"))
    expect(page.locator(ITEMS)).to_have_count(1)
    page.reload()
    expect(page.locator(ITEMS)).to_have_count(1)
    page.locator("select[data-testid=history-rating]").select_option("0")
    expect(page.locator(ITEMS)).to_have_count(2)

    # Zip the whole collection: both images, each with its rating and collections in the manifest.
    with page.expect_download() as download_info:
        page.locator("[data-testid=collection-download]").click()
    download = download_info.value
    assert re.fullmatch(r"\d{8}_herons-lib\d+\.zip", download.suggested_filename), download.suggested_filename
    archive = zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes()))
    manifest = json.loads(archive.read("metadata.json"))
    assert {(m["task_id"], m["rating"], tuple(m["collections"])) for m in manifest} == {
        (first["task_id"], 4, (name,)),
        (second["task_id"], None, (name,)),
    }
    comments = {info.filename: info.comment.decode() for info in archive.infolist() if info.filename != "metadata.json"}
    assert sorted(comments.values()) == sorted([f"rating 4/5; collections: {name}", f"not rated; collections: {name}"])

    # Multi-select within the collection: take one out (it stays in History).
    page.locator("[data-testid=history-select]").click()
    page.locator(f"{ITEMS}[data-task-id='{second['task_id']}'] .history-card__check").click()
    page.locator("[data-testid=bulk-remove-from-collection]").click()
    expect(page.locator(ITEMS)).to_have_count(1)
    page.reload()
    expect(page.locator(ITEMS)).to_have_count(1)
    expect(collection_select.locator("option:checked")).to_have_text(f"{name} (1)")


def test_insert_a_past_prompt_and_a_template(page: Page, stack: Stack) -> None:
    mark = tag()
    stack.generate(f"{mark} 雨后的江南小镇，青石板路")
    page.goto("/?model=demo")
    prompt_box(page).fill("")
    page.locator("[data-testid=open-prompt-history]").click()
    dialog = page.locator(".prompt-library")
    expect(dialog).to_be_visible()
    dialog.locator("input[data-testid=prompt-search], [data-testid=prompt-search] input").first.fill(mark)
    item = dialog.locator("[data-testid=prompt-history-item]")
    expect(item).to_have_count(1)
    item.click()
    expect(prompt_box(page)).to_have_value(f"{mark} 雨后的江南小镇，青石板路")

    # A style appends its fragment; a template asks for its placeholders.
    page.locator("[data-testid=open-templates]").click()
    dialog.locator("[data-testid=template-item][data-id='builtin:watercolor']").click()
    expect(prompt_box(page)).to_have_value(f"{mark} 雨后的江南小镇，青石板路，水彩画风格，柔和晕染的色彩，纸张纹理，留白")
    page.locator("[data-testid=open-templates]").click()
    dialog.locator("[data-testid=template-item][data-id='builtin:product-shot']").click()
    fill = dialog.locator("[data-testid=template-fill]")
    fill.locator("input[data-testid=fill-product], [data-testid=fill-product] input").first.fill("一只青瓷茶壶")
    fill.locator("input[data-testid=fill-surface], [data-testid=fill-surface] input").first.fill("胡桃木桌面")
    fill.locator("[data-testid=fill-insert]").click()
    expect(prompt_box(page)).to_have_value(re.compile(r"^一只青瓷茶壶放在胡桃木桌面上，纯净浅色背景"))

    # One's own template: saved, then inserted with its placeholder filled.
    page.locator("[data-testid=open-templates]").click()
    dialog.locator("[data-testid=template-new]").click()
    dialog.locator("input[data-testid=template-name], [data-testid=template-name] input").first.fill(f"Cat {mark}")
    dialog.locator("textarea[data-testid=template-text], [data-testid=template-text] textarea").first.fill(
        "{cat} asleep in a sunbeam"
    )
    dialog.locator("[data-testid=template-save]").click()
    mine = dialog.locator("[data-testid=template-item]", has_text=f"Cat {mark}")
    expect(mine).to_be_visible()
    mine.click()
    fill.locator("input[data-testid=fill-cat], [data-testid=fill-cat] input").first.fill("a ginger cat")
    fill.locator("[data-testid=fill-insert]").click()
    expect(prompt_box(page)).to_have_value("a ginger cat asleep in a sunbeam")


def _upload_reference(page: Page, colour: str) -> None:
    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (96, 96), colour).save(png, format="PNG")
    page.locator("[data-testid=reference-input]").set_input_files(
        files=[{"name": f"{colour}.png", "mimeType": "image/png", "buffer": png.getvalue()}]
    )


def test_save_a_reference_set_and_reuse_it(page: Page, stack: Stack) -> None:
    mark = tag()
    page.goto("/?model=demo")
    page.locator("[data-testid=reference-sets] summary").click()
    for colour in ("red", "teal"):
        _upload_reference(page, colour)
    expect(page.locator("[data-testid=reference-item]")).to_have_count(2)
    expect(page.locator("[data-testid=reference-item].is-ready")).to_have_count(2)
    page.locator("[data-testid=reference-set-save]").click()
    page.locator(".el-message-box input").fill(f"Mascot {mark}")
    page.locator(".el-message-box__btns .el-button--primary").click()
    saved = page.locator(f"[data-testid=reference-set][data-name='Mascot {mark}']")
    expect(saved).to_contain_text("2 张")

    # A new job: the form is cleared, the set comes back in one click, ready to send.
    page.locator("[data-testid=reference-item] button[title=移除]").first.click()
    page.locator("[data-testid=reference-item] button[title=移除]").first.click()
    expect(page.locator("[data-testid=reference-item]")).to_have_count(0)
    saved.locator("[data-testid=reference-set-use]").click()
    expect(page.locator("[data-testid=reference-item].is-ready")).to_have_count(2)
    # Over the model's limit (the demo model takes 4): said plainly, nothing added.
    saved.locator("[data-testid=reference-set-use]").click()
    expect(page.locator("[data-testid=reference-item]")).to_have_count(4)
    saved.locator("[data-testid=reference-set-use]").click()
    expect(page.locator(".el-message--error, .el-message--warning").last).to_contain_text("最多接受 4 张参考图")
    expect(page.locator("[data-testid=reference-item]")).to_have_count(4)

    prompt_box(page).fill(f"{mark} the mascot waving")
    page.locator("[data-testid=generate-button]").click()
    expect(page.locator("[data-testid=task-card][data-status=completed]").first).to_be_visible(timeout=30_000)


def test_drag_a_history_image_onto_the_reference_area(page: Page, stack: Stack) -> None:
    """History in one tab, Generate in another: the drag carries the image's address (as between
    two real tabs), the drop fetches and uploads it; a result on Generate drags the same way."""
    task = stack.generate(f"{tag()} a lighthouse to drag")
    image_url = task["outputs"][0]["url"]
    page.goto("/history")
    card = page.locator(f"{ITEMS}[data-task-id='{task['task_id']}']")
    # What the card puts into a drag.
    carried = card.evaluate(
        """(el) => {
            const data = new DataTransfer();
            el.dispatchEvent(new DragEvent('dragstart', { dataTransfer: data, bubbles: true }));
            return { studio: data.getData('application/x-studio-image'), uris: data.getData('text/uri-list') };
        }"""
    )
    assert carried["studio"] == image_url and carried["uris"] == stack.url(image_url)

    page.goto("/?model=demo")
    expect(page.locator("[data-testid=reference-dropzone]")).to_be_visible()
    page.locator("[data-testid=reference-dropzone]").evaluate(
        """(el, uris) => {
            const data = new DataTransfer();
            data.setData('text/uri-list', uris);
            for (const type of ['dragenter', 'dragover', 'drop']) {
                el.dispatchEvent(new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true }));
            }
        }""",
        carried["uris"],
    )
    expect(page.locator("[data-testid=reference-item].is-ready")).to_have_count(1)
    # "Use as reference" still works (History reached from the form, as a user does).
    page.locator("[data-testid=nav-history]").click()
    page.locator(f"{ITEMS}[data-task-id='{task['task_id']}']").click()
    expect(page.locator("[data-testid=history-detail]")).to_be_visible()
    page.get_by_role("button", name="用作参考图").click()
    expect(page).to_have_url(re.compile(r"/(\?.*)?$"))
    expect(page.locator("[data-testid=reference-item].is-ready")).to_have_count(2)


def test_prompt_on_cards_and_folded_filters_on_a_phone(page: Page, stack: Stack) -> None:
    mark = tag()
    long_prompt = f"{mark} " + "a very long prompt about a harbour at night with lanterns and boats " * 3
    stack.generate(long_prompt)
    page.set_viewport_size(PHONE)
    page.goto(f"/history?q={mark}")
    caption = page.locator("[data-testid=history-prompt]").first
    expect(caption).to_contain_text(mark)
    one_line = caption.bounding_box()
    page.locator(ITEMS).first.focus()
    expect(caption).to_contain_text("lanterns and boats")
    assert caption.bounding_box()["height"] > one_line["height"] + 10  # the whole prompt on focus
    # Phone: the filters fold behind one button (open here: the URL sets a search only).
    page.goto("/history")
    filters = page.locator("[data-testid=history-filters]")
    toggle = page.locator("[data-testid=filters-toggle]")
    expect(filters).to_be_hidden()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(filters).to_be_visible()
    expect(page.locator("select[data-testid=history-rating]")).to_be_visible()
    page.set_viewport_size(DESKTOP)
    expect(toggle).to_be_hidden()
    expect(page.locator("select[data-testid=history-rating]")).to_be_visible()


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshots_and_axe_of_the_library_screens(
    page: Page, stack: Stack, screenshots: Path, lang: str, theme: str
) -> None:
    mark = tag()
    task = stack.generate(f"{mark} a rated heron ({lang}, {theme})")
    stack.post_json(f"/api/v1/history/{task['task_id']}", {"rating": 5}, method="PATCH")
    status, made = stack.post_json("/api/v1/collections", {"name": f"Shots {mark}"})
    assert status == 201, made
    stack.post_json(f"/api/v1/collections/{made['id']}/items", {"task_ids": [task["task_id"]]})
    page.goto("/")
    set_language_and_theme(page, lang, theme)
    found: dict[str, list[dict]] = {}

    def shot(name: str, device: str) -> None:
        page.wait_for_timeout(300)
        page.screenshot(path=str(screenshots / f"{name}-{lang}-{theme}-{device}.png"))
        if findings := axe_findings(page):
            found[f"{name}-{device}"] = findings

    for device, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.goto(f"/history?collection={made['id']}")
        expect(page.locator(ITEMS)).to_have_count(1)
        if device == "phone":
            # a filter is set (the collection): the folded filters start open, so none hides
            expect(page.locator("[data-testid=filters-toggle]")).to_have_attribute("aria-expanded", "true")
            expect(page.locator("select[data-testid=history-collection]")).to_be_visible()
        shot("library-history-collection", device)
        open_detail(page, task["task_id"])
        expect(page.locator("[data-testid=detail-collection]")).to_have_count(1)
        shot("library-history-detail", device)
        # Seedream 4.0: takes references, and has no guidance slider (whose number box Element
        # Plus leaves unlabelled, a finding of the Generate page with the demo model, not of these)
        page.goto(f"/?model={ARK_MODEL}")
        page.locator("[data-testid=open-prompt-history]").click()
        expect(page.locator("[data-testid=prompt-history-item]").first).to_be_visible()
        shot("library-prompt-history", device)
        page.locator("[data-testid=library-tab-templates]").click()
        expect(page.locator("[data-testid=template-item]").first).to_be_visible()
        shot("library-templates", device)
        page.keyboard.press("Escape")
        expect(page.locator(".prompt-library")).to_be_hidden()
        page.locator("[data-testid=reference-sets] summary").click()
        expect(page.locator("[data-testid=reference-set-save]")).to_be_visible()
        shot("library-reference-sets", device)
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)
