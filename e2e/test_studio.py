"""The studio for daily use (issue 15): a card the moment Generate is pressed, feedback on a phone,
no accidental double payment, the draft kept over a reload, progress with a timer and the model's
usual duration. Screenshots of the new screens go to e2e/artifacts/screenshots."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .conftest import Stack
from .test_ui import ARK_MODEL, DESKTOP, PHONE, prompt_box, set_budgets, set_language_and_theme

CARDS = "[data-testid=task-card]"


def search_box(page: Page):
    # Element Plus forwards data-testid to the <input>; accept a wrapper too.
    return page.locator("input[data-testid=history-search], [data-testid=history-search] input").first


def test_a_submit_shows_its_card_while_the_request_is_on_its_way(page: Page, stack: Stack, screenshots: Path) -> None:
    # The request still goes to the real server, 1.5 s late (a slow network), delayed in the page:
    # a Playwright route handler would block this test's own clock.
    page.add_init_script(
        """(() => {
            const send = window.fetch.bind(window);
            window.fetch = async (input, init) => {
                if (String(input).includes('/api/v1/generate/')) await new Promise((r) => setTimeout(r, 1500));
                return send(input, init);
            };
        })()"""
    )
    page.goto("/?model=demo")
    prompt_box(page).fill("a paper boat, e2e sending card")
    # timed from a ready form: until the catalogue answers the button waits (loading)
    expect(page.locator("[data-testid=generate-button]")).to_be_enabled(timeout=15_000)
    before = page.evaluate("() => performance.now()")
    page.locator("[data-testid=generate-button]").click()
    card = page.locator(CARDS).first
    expect(card).to_have_attribute("data-status", "sending", timeout=500)
    assert page.evaluate("() => performance.now()") - before < 500
    expect(card.locator("[data-testid=task-progress-text]")).to_have_text("正在提交到服务器…")
    expect(card).to_contain_text("a paper boat")
    card.screenshot(path=str(screenshots / "task-card-sending-zh-light.png"))
    # the same card becomes the task, then its image
    expect(page.locator(f"{CARDS}[data-status=completed]")).to_have_count(1, timeout=30_000)
    expect(page.locator(CARDS)).to_have_count(1)
    expect(page.locator(CARDS).first).to_have_attribute("data-task-id", re.compile(r"^[0-9a-f]{32}$"))


def test_a_refused_submit_keeps_the_reason_on_its_card(page: Page, stack: Stack, screenshots: Path) -> None:
    stack.generate("a kite, e2e refusal", model=ARK_MODEL)
    spent = json.loads(stack.get("/api/v1/usage/summary")[2])["today_cny"]
    set_budgets(stack, round(spent + 0.01, 2), None)
    try:
        page.goto(f"/?model={ARK_MODEL}")
        prompt_box(page).fill("a kite over the cap, e2e refusal")
        page.locator("[data-testid=generate-button]").click()
        card = page.locator(CARDS).first
        expect(card).to_have_attribute("data-status", "failed")
        expect(card.locator("[data-testid=task-error]")).to_contain_text("每日预算")
        card.screenshot(path=str(screenshots / "task-card-refused-zh-light.png"))
        # raised cap: Retry on the same card sends it again
        set_budgets(stack, None, None)
        card.locator("[data-testid=retry-button]").click()
        expect(page.locator(f"{CARDS}[data-status=completed]")).to_have_count(1, timeout=30_000)
        expect(page.locator(CARDS)).to_have_count(1)
    finally:
        set_budgets(stack, None, None)


def test_phone_flow_after_a_tap(page: Page, stack: Stack, screenshots: Path) -> None:
    page.set_viewport_size(PHONE)
    page.goto(f"/?model={ARK_MODEL}")
    prompt_box(page).fill("a lantern on a phone, e2e phone flow [fault:slow:ms=4000]")
    button = page.locator("[data-testid=generate-button]")
    expect(button).to_be_enabled(timeout=15_000)
    button.click()
    chip = page.locator("[data-testid=active-chip]")
    # right above the button, on screen, at once
    expect(chip).to_be_in_viewport(timeout=1_000)
    expect(chip).to_contain_text("1 个生成中")
    box, button_box = chip.bounding_box(), button.bounding_box()
    assert box and button_box and box["y"] + box["height"] <= button_box["y"] + 1
    page.screenshot(path=str(screenshots / "generate-chip-zh-light-phone.png"))
    card = page.locator(CARDS).first
    expect(card).not_to_be_in_viewport()
    chip.click()
    expect(card).to_be_in_viewport()
    expect(card.locator("[data-testid=task-elapsed]")).to_contain_text("已用")

    # the same job again seconds later: asked first; "cancel" sends nothing
    page.evaluate("window.scrollTo(0, 0)")
    button.click()
    dialog = page.locator(".repeat-confirm")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("完全相同的任务")
    page.screenshot(path=str(screenshots / "generate-repeat-confirm-zh-light-phone.png"))
    dialog.locator(".el-message-box__btns button").first.click()
    expect(dialog).to_be_hidden()
    expect(page.locator(CARDS)).to_have_count(1)
    button.click()
    expect(dialog).to_be_visible()
    dialog.locator(".el-message-box__btns .el-button--primary").click()
    expect(page.locator(CARDS)).to_have_count(2)
    expect(chip).to_contain_text("2 个生成中")
    # another prompt is simply another job
    prompt_box(page).fill("a different lantern, e2e phone flow")
    button.click()
    expect(page.locator(CARDS)).to_have_count(3)
    expect(dialog).to_be_hidden()


def test_the_draft_survives_a_reload(page: Page) -> None:
    page.goto(f"/?model={ARK_MODEL}")
    prompt_box(page).fill("a long prompt that must not be lost, e2e draft: 雨后的江南小镇")
    page.locator("[data-testid=group-mode]").click()
    page.goto("/")  # no ?model= now: the draft's model comes back
    page.reload()
    expect(prompt_box(page)).to_have_value("a long prompt that must not be lost, e2e draft: 雨后的江南小镇")
    expect(page.locator("select[data-testid=model-select]")).to_have_value(ARK_MODEL)
    expect(page.locator("[data-testid=group-max]")).to_be_visible()
    # a link's own prompt wins over the draft
    page.goto("/?prompt=from%20a%20link")
    expect(prompt_box(page)).to_have_value("from a link")


def test_a_running_job_shows_its_timer_and_the_usual_duration(page: Page, stack: Stack, screenshots: Path) -> None:
    stack.generate("a tower, e2e typical duration", model=ARK_MODEL)
    typical = {d["model"]: d for d in json.loads(stack.get("/api/v1/models/durations")[2])["items"]}
    assert typical[ARK_MODEL]["samples"] >= 1 and typical[ARK_MODEL]["median_seconds"] > 0
    for lang, theme in (("zh", "light"), ("en", "dark")):
        page.goto(f"/?model={ARK_MODEL}")
        set_language_and_theme(page, lang, theme)
        page.set_viewport_size(DESKTOP)
        prompt_box(page).fill(f"a slow tower ({lang}), e2e typical duration [fault:slow:ms=5000]")
        page.locator("[data-testid=generate-button]").click()
        card = page.locator(CARDS).first
        elapsed = card.locator("[data-testid=task-elapsed]")
        expect(elapsed).to_be_visible()
        first = elapsed.inner_text()
        expect(elapsed).not_to_have_text(first, timeout=3_000)  # it ticks
        expect(card.locator("[data-testid=task-typical]")).to_contain_text("通常约" if lang == "zh" else "usually ~")
        card.screenshot(path=str(screenshots / f"task-card-timer-{lang}-{theme}.png"))
        expect(card).to_have_attribute("data-status", "completed", timeout=30_000)
        page.context.clear_cookies()
        page.evaluate("localStorage.clear()")


def test_keyboard_shortcuts_and_their_sheet(page: Page, screenshots: Path) -> None:
    page.goto("/")
    expect(prompt_box(page)).to_be_visible()
    page.locator("body").press("g")
    page.keyboard.press("h")
    expect(page).to_have_url(re.compile(r"/history$"))
    page.keyboard.press("/")
    expect(page.locator("[data-testid=history-search] input, input[data-testid=history-search]").first).to_be_focused()
    page.evaluate("document.activeElement.blur()")  # out of the field
    for lang, theme in (("zh", "light"), ("en", "dark")):
        if lang == "en":
            page.keyboard.press("l")
            page.keyboard.press("t")
            expect(page.locator("html")).to_have_class(re.compile(r"\bdark\b"))
        page.keyboard.press("?")
        sheet = page.locator("[data-testid=shortcut-sheet]")
        expect(sheet).to_be_visible()
        expect(sheet).to_contain_text("键盘快捷键" if lang == "zh" else "Keyboard shortcuts")
        sheet.screenshot(path=str(screenshots / f"shortcut-sheet-{lang}-{theme}.png"))
        page.keyboard.press("Escape")
        expect(sheet).to_be_hidden()
    # typing in the prompt types; it does not navigate
    page.keyboard.press("n")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(prompt_box(page)).to_be_focused()
    page.keyboard.type("g h")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(prompt_box(page)).to_have_value(re.compile(r"g h$"))


def test_installable_with_an_offline_shell_that_caches_no_data(page: Page, stack: Stack) -> None:
    status, headers, raw = stack.get("/manifest.json")
    assert status == 200, raw
    manifest = json.loads(raw)
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/"
    purposes = set()
    for icon in manifest["icons"]:
        status, headers, body = stack.get(icon["src"])
        assert status == 200 and headers["Content-Type"].split(";")[0] == icon["type"], icon
        purposes.add(icon["purpose"])
        if icon["type"] == "image/png":
            assert body.startswith(b"\x89PNG") and icon["sizes"] in ("192x192", "512x512")
    assert {"any", "maskable"} <= purposes
    status, headers, _ = stack.get("/sw.js")
    assert status == 200 and headers["Cache-Control"] == "no-cache"

    stack.generate("a lighthouse for the offline shell, e2e pwa")
    page.goto("/history")
    expect(page.locator("[data-testid=history-item]").first).to_be_visible()
    page.wait_for_function("navigator.serviceWorker.controller !== null || navigator.serviceWorker.ready.then(() => true)")
    page.reload()  # now controlled by the worker
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    cached = page.evaluate(
        """async () => {
            const urls = [];
            for (const name of await caches.keys()) {
                for (const request of await (await caches.open(name)).keys()) urls.push(new URL(request.url).pathname);
            }
            return urls;
        }"""
    )
    assert "/" in cached and any(url.startswith("/assets/") for url in cached), cached
    assert not [url for url in cached if re.match(r"^/(api|images|health|docs)", url)], cached

    page.context.set_offline(True)
    try:
        page.goto("/settings")
        expect(page.locator("[data-testid=nav-history]")).to_be_visible()  # the shell, from the cache
    finally:
        page.context.set_offline(False)


def test_history_detail_previous_and_next_with_the_arrow_keys(page: Page, stack: Stack, screenshots: Path) -> None:
    tag = f"stepper{int(time.time() * 1000)}"
    a, b, c = (stack.generate(f"{tag} picture {n}")["task_id"] for n in ("one", "two", "three"))
    page.goto(f"/history/{b}?q={tag}")
    detail = page.locator("[data-testid=history-detail]")
    expect(detail).to_contain_text("picture two")
    expect(page.locator(".detail-steps")).to_contain_text("2 / 3")
    page.keyboard.press("ArrowRight")  # the gallery is newest first: right is older
    expect(page).to_have_url(re.compile(rf"/history/{a}\?q={tag}$"))
    expect(detail).to_contain_text("picture one")
    expect(page.locator("[data-testid=detail-next]")).to_be_disabled()
    page.screenshot(path=str(screenshots / "history-detail-steps-zh-light.png"))
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(page).to_have_url(re.compile(rf"/history/{c}\?q={tag}$"))
    expect(page.locator("[data-testid=detail-previous]")).to_be_disabled()
    page.locator("[data-testid=detail-next]").click()
    expect(page).to_have_url(re.compile(rf"/history/{b}\?q={tag}$"))


def test_history_filters_live_in_the_url_and_clear_in_one_click(page: Page, stack: Stack) -> None:
    tag = f"filtered{int(time.time() * 1000)}"
    stack.generate(f"{tag} a heron")
    page.goto("/history")
    search_box(page).fill(tag)
    page.locator("select[data-testid=history-type]").select_option("text2image")
    expect(page).to_have_url(re.compile(rf"/history\?q={tag}&type=text2image$"))
    expect(page.locator("[data-testid=history-item]")).to_have_count(1)
    # a reload (or a shared link) keeps the view
    page.reload()
    expect(search_box(page)).to_have_value(tag)
    expect(page.locator("select[data-testid=history-type]")).to_have_value("text2image")
    expect(page.locator("[data-testid=history-item]")).to_have_count(1)
    # nothing matches: say so, and offer the way back
    page.locator("select[data-testid=history-type]").select_option("image2image")
    expect(page.locator("[data-testid=history-empty]")).to_contain_text("没有符合条件的记录")
    page.locator("[data-testid=clear-filters]").click()
    expect(page).to_have_url(re.compile(r"/history$"))
    expect(search_box(page)).to_have_value("")
    expect(page.locator("[data-testid=history-item]").first).to_be_visible()


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshots_of_the_new_screens(page: Page, stack: Stack, screenshots: Path, lang: str, theme: str) -> None:
    """A running card (timer, usual duration, numbered slots) with the phone's chip, the shortcut
    sheet, and the history detail with previous/next: desktop and phone."""
    stack.generate(f"a finished harbour ({lang}, {theme}), e2e screens", model=ARK_MODEL)
    page.goto("/")
    set_language_and_theme(page, lang, theme)
    for device, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.goto(f"/?model={ARK_MODEL}")
        page.locator("[data-testid=group-mode]").click()
        prompt_box(page).fill(f"a harbour at dusk ({lang}, {theme}, {device}) [fault:slow:ms=4000]")
        page.locator("[data-testid=generate-button]").click()
        card = page.locator(CARDS).first
        expect(card.locator("[data-testid=task-typical]")).to_be_visible()
        page.screenshot(path=str(screenshots / f"generate-running-{lang}-{theme}-{device}.png"))
        card.screenshot(path=str(screenshots / f"task-card-running-{lang}-{theme}-{device}.png"))
        page.evaluate("document.activeElement && document.activeElement.blur()")
        page.keyboard.press("?")
        expect(page.locator("[data-testid=shortcut-sheet]")).to_be_visible()
        page.screenshot(path=str(screenshots / f"shortcut-sheet-{lang}-{theme}-{device}.png"))
        page.keyboard.press("Escape")
        expect(card).to_have_attribute("data-status", re.compile(r"^(completed|failed)$"), timeout=30_000)
        page.goto("/history")
        page.locator("[data-testid=history-item]").nth(1).click()
        expect(page.locator(".detail-steps")).to_be_visible()
        page.screenshot(path=str(screenshots / f"history-detail-steps-{lang}-{theme}-{device}.png"))


def test_toasts_stay_below_the_navigation(page: Page) -> None:
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        page.goto("/?model=no-such-model")  # answered with a warning toast
        toast = page.locator(".el-message").first
        expect(toast).to_be_visible()
        # once it has slid in (Element Plus's default would stop 16 px from the top, over the header)
        page.wait_for_function(
            """() => {
                const toast = document.querySelector('.el-message').getBoundingClientRect();
                return toast.top >= document.querySelector('.app-header').getBoundingClientRect().bottom;
            }""",
            timeout=3_000,
        )
        page.wait_for_timeout(500)
        header = page.locator(".app-header").bounding_box()
        box = toast.bounding_box()
        assert header and box and box["y"] >= header["y"] + header["height"], (header, box)
