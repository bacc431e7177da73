"""The product in a browser, through nginx: generate, see, find in history, download, switch
language and theme. Screenshots of every page in zh/en x light/dark go to e2e/artifacts/screenshots."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .conftest import Stack

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CJK = re.compile(r"[\u4e00-\u9fff]")
ARK_MODEL = "doubao-seedream-4-0-250828"
# What the Chinese UI may show in Latin letters: setting names (ARK_API_KEY), protocol and format
# names, MIME types.
VERBATIM = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|\b(?:HTTP|JSON)\b|\b[a-z]+/[a-z0-9.+-]+")
LATIN_WORDS = re.compile(r"[A-Za-z]{4,}")
# Fault markers the fake Ark turns into a failed task within a few seconds (1.5 s per call,
# retries without backoff). The timeouts wait for UPSTREAM_READ_TIMEOUT (minutes): the backend's
# fault matrix covers them.
FAST_FAULTS = [
    "[fault:429]", "[fault:quota]", "[fault:setlimit]", "[fault:500]", "[fault:auth]",
    "[fault:moderation-input]", "[fault:moderation-output]", "[fault:garbage]", "[fault:truncated]",
    "[fault:url-404]", "[fault:url-html]",
]
PAGES = [("generate", "nav-generate"), ("history", "nav-history"), ("queue", "nav-queue"),
         ("inspect", "nav-inspect"), ("settings", "nav-settings")]


def prompt_box(page: Page):
    # Element Plus forwards data-testid to the <textarea>; accept a wrapper too.
    return page.locator("textarea[data-testid=prompt-input], [data-testid=prompt-input] textarea").first


def assert_image_loaded(page: Page, selector: str) -> None:
    image = page.locator(selector).first
    expect(image).to_be_visible(timeout=60_000)
    page.wait_for_function(
        "(el) => el.complete && el.naturalWidth > 0", arg=image.element_handle(), timeout=30_000
    )


def generate_in_ui(page: Page, model: str, prompt: str) -> None:
    page.goto(f"/?model={model}")
    box = prompt_box(page)
    expect(box).to_be_visible()
    box.fill(prompt)
    page.locator("[data-testid=generate-button]").click()
    assert_image_loaded(page, "img[data-testid=result-image]")


def test_generate_with_the_demo_model(page: Page, screenshots: Path) -> None:
    generate_in_ui(page, "demo", "a red fox in fresh snow, e2e demo")
    page.screenshot(path=str(screenshots / "result-demo-zh-light.png"), full_page=True)


def test_generate_with_an_ark_model_against_the_fake(page: Page, screenshots: Path) -> None:
    generate_in_ui(page, "doubao-seedream-4-0-250828", "a paper boat on a pond, e2e ark")
    src = page.locator("img[data-testid=result-image]").first.get_attribute("src")
    assert src and src.startswith("/images/")
    page.screenshot(path=str(screenshots / "result-ark-zh-light.png"), full_page=True)


def test_history_open_and_download(page: Page, stack: Stack, screenshots: Path) -> None:
    task = stack.generate("a blue teapot, e2e history")
    page.goto("/")
    page.locator("[data-testid=nav-history]").click()
    item = page.locator(f"[data-testid=history-item][data-task-id='{task['task_id']}']")
    expect(item).to_be_visible()
    item.click()
    expect(page.locator("[data-testid=history-detail]")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/history/{task['task_id']}$"))
    with page.expect_download() as info:
        page.locator("[data-testid=download-button]").click()
    downloaded = Path(info.value.path()).read_bytes()
    assert downloaded.startswith(PNG_MAGIC)
    status, _, served = stack.get(task["images"][0])
    assert status == 200 and downloaded == served


def test_deep_link_to_a_history_item_survives_reload(page: Page, stack: Stack) -> None:
    task = stack.generate("a green kite, e2e deep link")
    page.goto(f"/history/{task['task_id']}")
    detail = page.locator("[data-testid=history-detail]")
    expect(detail).to_be_visible()
    expect(detail).to_contain_text("a green kite, e2e deep link")
    page.reload()
    expect(detail).to_be_visible()
    expect(detail).to_contain_text("a green kite, e2e deep link")
    assert_image_loaded(page, "[data-testid=history-detail] img")


def test_language_and_theme_toggles(page: Page) -> None:
    page.goto("/")
    label = page.locator("[data-testid=nav-history]")
    expect(label).to_have_text(CJK)
    page.locator("[data-testid=lang-toggle]").click()
    expect(label).not_to_have_text(CJK)
    expect(label).to_have_text(re.compile(r"[A-Za-z]"))
    assert page.evaluate("document.documentElement.lang").startswith("en")

    html = page.locator("html")
    expect(html).not_to_have_class(re.compile(r"\bdark\b"))
    page.locator("[data-testid=theme-toggle]").click()
    expect(html).to_have_class(re.compile(r"\bdark\b"))
    # both choices are remembered across a reload
    page.reload()
    expect(html).to_have_class(re.compile(r"\bdark\b"))
    expect(label).not_to_have_text(CJK)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshots_of_every_page(page: Page, stack: Stack, screenshots: Path, lang: str, theme: str) -> None:
    task = stack.generate(f"a quiet harbour at dawn ({lang}, {theme})")
    page.goto("/")
    expect(page.locator("[data-testid=nav-history]")).to_be_visible()
    if lang == "en":
        page.locator("[data-testid=lang-toggle]").click()
        expect(page.locator("[data-testid=nav-history]")).not_to_have_text(CJK)
    if theme == "dark":
        page.locator("[data-testid=theme-toggle]").click()
        expect(page.locator("html")).to_have_class(re.compile(r"\bdark\b"))
    for name, nav in PAGES:
        page.locator(f"[data-testid={nav}]").click()
        page.wait_for_load_state("networkidle")
        if name == "history":
            expect(page.locator("[data-testid=history-item]").first).to_be_visible()
        page.screenshot(path=str(screenshots / f"{name}-{lang}-{theme}.png"), full_page=True)
    page.goto(f"/history/{task['task_id']}")
    expect(page.locator("[data-testid=history-detail]")).to_be_visible()
    assert_image_loaded(page, "[data-testid=history-detail] img")
    page.screenshot(path=str(screenshots / f"history-detail-{lang}-{theme}.png"), full_page=True)


def test_a_dozen_running_jobs_never_freeze_the_tab(page: Page, stack: Stack) -> None:
    """Each Ark job takes 6 s upstream; with one stream per job the seventh submit waited for a
    job to end (the browser's six connections per host). One live channel: every card at once."""
    page.goto("/?model=doubao-seedream-4-0-250828")
    box = prompt_box(page)
    expect(box).to_be_visible()
    cards = page.locator("[data-testid=task-card]")
    started = page.evaluate("() => performance.now()")
    for i in range(12):
        box.fill(f"job {i} of a dozen, e2e live channel [fault:slow:ms=6000]")
        before = page.evaluate("() => performance.now()")
        page.locator("[data-testid=generate-button]").click()
        expect(cards).to_have_count(i + 1, timeout=1_000)
        assert page.evaluate("() => performance.now()") - before < 1_000
    assert page.evaluate("() => performance.now()") - started < 12_000
    # Jobs still running: the other pages answer at once.
    for nav, selector in (("nav-history", "[data-testid=history-page], main"), ("nav-queue", "main")):
        before = page.evaluate("() => performance.now()")
        page.locator(f"[data-testid={nav}]").click()
        expect(page.locator(selector).first).to_be_visible(timeout=1_000)
        assert page.evaluate("() => performance.now()") - before < 1_000
    page.locator("[data-testid=nav-generate]").click()
    expect(page.locator("[data-testid=task-card][data-status=completed]")).to_have_count(12, timeout=60_000)
    # One EventSource for all of them.
    streams = page.evaluate(
        "() => performance.getEntriesByType('resource').filter(e => e.name.includes('/events')).map(e => e.name)"
    )
    assert all(name.endswith("/api/v1/events") or "/api/v1/events?" in name for name in streams), streams


def test_upstream_errors_read_in_the_language_of_the_ui(page: Page, screenshots: Path) -> None:
    page.goto(f"/?model={ARK_MODEL}")
    box = prompt_box(page)
    expect(box).to_be_visible()
    cards = page.locator("[data-testid=task-card]")
    for i, marker in enumerate(FAST_FAULTS):
        box.fill(f"e2e error card {marker}")
        page.locator("[data-testid=generate-button]").click()
        expect(cards).to_have_count(i + 1)
    expect(page.locator("[data-testid=task-card][data-status=failed]")).to_have_count(len(FAST_FAULTS), timeout=90_000)
    for marker in FAST_FAULTS:
        error = cards.filter(has_text=marker).locator("[data-testid=task-error-card]")
        text = error.inner_text()
        assert CJK.search(text), (marker, text)
        assert LATIN_WORDS.findall(VERBATIM.sub(" ", text)) == [], (marker, text)

    throttled = cards.filter(has_text="[fault:429]")
    throttled.screenshot(path=str(screenshots / "error-card-zh.png"))
    page.locator("[data-testid=lang-toggle]").click()
    expect(throttled.locator("[data-testid=task-error]")).to_contain_text("Ark is throttling requests")
    expect(throttled.locator("[data-testid=task-error-card]")).not_to_have_text(CJK)
    throttled.screenshot(path=str(screenshots / "error-card-en.png"))


def test_a_partial_group_shows_n_of_m_in_amber(page: Page, stack: Stack, screenshots: Path) -> None:
    task = stack.generate("a group of three, e2e partial [fault:partial:1]", model=ARK_MODEL, group={"max_images": 3})
    assert len(task["outputs"]) == 2 and [f["index"] for f in task["failures"]] == [1]
    page.goto(f"/history/{task['task_id']}")
    detail = page.locator("[data-testid=history-detail]")
    expect(detail.locator("[data-status=partial]")).to_have_text("部分完成")
    expect(detail.locator("[data-testid=task-partial]")).to_have_text("只生成了 2 / 3 张")
    expect(detail.locator("[data-testid=task-failures] li")).to_have_text(re.compile(r"^第 2 张未生成：.*内容审核"))
    assert_image_loaded(page, "[data-testid=history-detail] img")
    page.screenshot(path=str(screenshots / "history-detail-partial-zh.png"), full_page=True, animations="disabled")
