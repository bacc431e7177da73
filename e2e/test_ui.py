"""The product in a browser, through nginx: generate, see, find in history, download, switch
language and theme. Screenshots of every page in zh/en x light/dark go to e2e/artifacts/screenshots."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .conftest import Stack

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CJK = re.compile(r"[\u4e00-\u9fff]")
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
         ("inspect", "nav-inspect"), ("usage", "nav-usage"), ("settings", "nav-settings")]
ARK_MODEL = "doubao-seedream-4-0-250828"  # 0.20 CNY per image in backend/app/billing/prices.toml
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1360, "height": 900}


def prompt_box(page: Page):
    # Element Plus forwards data-testid to the <textarea>; accept a wrapper too.
    return page.locator("textarea[data-testid=prompt-input], [data-testid=prompt-input] textarea").first


def assert_image_loaded(page: Page, selector: str) -> None:
    image = page.locator(selector).first
    expect(image).to_be_visible(timeout=60_000)
    page.wait_for_function(
        "(el) => el.complete && el.naturalWidth > 0", arg=image.element_handle(), timeout=30_000
    )


def cny(value: float) -> str:
    """A figure as the UI writes it (utils/money.ts formatCny): "¥1,234.50", "¥0.259"."""
    whole, frac = f"{value:,.4f}".split(".")
    return f"¥{whole}.{frac.rstrip('0').ljust(2, '0')}"


def wait_for_chart(page: Page, testid: str) -> None:
    """The uPlot chart inside [data-testid=testid] is drawn: a canvas with a non-zero size."""
    canvas = page.locator(f"[data-testid={testid}] [data-testid=usage-chart] canvas").first
    expect(canvas).to_be_visible()
    page.wait_for_function(
        "(c) => c.width > 0 && c.height > 0 && c.getBoundingClientRect().width > 0 && c.getBoundingClientRect().height > 0",
        arg=canvas.element_handle(),
    )


def set_language_and_theme(page: Page, lang: str, theme: str) -> None:
    """From zh/light (a fresh context), with the header's toggles; both are remembered."""
    expect(page.locator("[data-testid=nav-history]")).to_be_visible()
    if lang == "en":
        page.locator("[data-testid=lang-toggle]").click()
        expect(page.locator("[data-testid=nav-history]")).not_to_have_text(CJK)
    if theme == "dark":
        page.locator("[data-testid=theme-toggle]").click()
        expect(page.locator("html")).to_have_class(re.compile(r"\bdark\b"))


def set_budgets(stack: Stack, daily: float | None, monthly: float | None) -> None:
    status, body = stack.post_json("/api/v1/usage/budgets", {"daily_cny": daily, "monthly_cny": monthly}, method="PUT")
    assert status == 200, body


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


def test_web_search_on_seedream_5_lite_and_a_retiring_badge(page: Page, stack: Stack) -> None:
    page.goto("/?model=doubao-seedream-5-0-260128")
    field = page.locator("[data-testid=web-search-field]")
    expect(field).to_contain_text("联网搜索")
    field.locator(".el-switch").click()
    expect(field.locator(".el-switch")).to_have_class(re.compile(r"\bis-checked\b"))
    prompt_box(page).fill("this week's weather over the West Lake, e2e web search")
    page.locator("[data-testid=generate-button]").click()
    assert_image_loaded(page, "img[data-testid=result-image]")
    # The fake Ark reports one search per image; the card says so next to the cost.
    expect(page.locator("[data-testid=task-card] [data-testid=task-cost]").first).to_contain_text("联网搜索 1 次")
    history = json.loads(stack.get("/api/v1/history?limit=1")[2])
    task = json.loads(stack.get(f"/api/v1/tasks/{history['items'][0]['task_id']}")[2])
    assert task["model"] == "doubao-seedream-5-0-260128" and task["web_searches"] == 1
    assert task["parameters"]["web_search"] is True

    page.locator("select[data-testid=model-select]").select_option("doubao-seedream-4-0-250828")
    expect(field).to_have_count(0)
    page.locator("select[data-testid=model-select]").select_option("doubao-seedream-3-0-t2i-250415")
    expect(page.locator("[data-testid=model-retiring]")).to_contain_text("即将下线")


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
    set_language_and_theme(page, lang, theme)
    for name, nav in PAGES:
        page.locator(f"[data-testid={nav}]").click()
        page.wait_for_load_state("networkidle")
        if name == "history":
            expect(page.locator("[data-testid=history-item]").first).to_be_visible()
        if name == "usage":
            wait_for_chart(page, "usage-days")
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
    # The clock starts once the form is ready (the catalogue answered): the first click of CI's run
    # came while the model list was still loading, under the load of the other suites.
    expect(page.locator("[data-testid=generate-button]")).to_be_enabled(timeout=15_000)
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


# ---- spend: estimate, actual cost, usage, budgets ----


def test_the_generate_button_prices_what_it_will_start(page: Page) -> None:
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if "/api/v1/usage/" in request.url else None)
    page.goto(f"/?model={ARK_MODEL}")
    price = page.locator("[data-testid=generate-price]")
    expect(price).to_have_text("· ¥0.20")
    more = page.locator(".el-input-number:has(#num-images) .el-input-number__increase")
    more.click()
    expect(price).to_have_text("· ¥0.40")
    more.click()
    expect(price).to_have_text("· ¥0.60")
    # a group is priced at its maximum, and says so
    page.locator("[data-testid=group-mode]").click()
    expect(price).to_have_text("· 最多 ¥0.80")  # 4 images at most, the default group size
    page.locator("[data-testid=single-mode]").click()
    expect(price).to_have_text("· ¥0.60")
    page.locator("select[data-testid=model-select]").select_option("doubao-seedream-4-5-251128")
    expect(price).to_have_text("· ¥0.75")
    page.locator("select[data-testid=model-select]").select_option("demo")
    expect(price).to_have_text("· 免费")
    page.locator("[data-testid=lang-toggle]").click()
    expect(price).to_have_text("· free")
    # priced in the browser from one cached price list: no request per change
    assert sum("/api/v1/usage/prices" in url for url in asked) == 1, asked
    assert not any("/api/v1/usage/estimate" in url for url in asked), asked


def test_usage_after_a_demo_and_an_ark_generation(page: Page, stack: Stack, screenshots: Path) -> None:
    stack.generate("a lighthouse, e2e usage demo")
    ark = stack.generate("a lighthouse, e2e usage ark", model=ARK_MODEL)
    assert ark["cost_cny"] == 0.2 and ark["billed_images"] == 1, ark
    summary = json.loads(stack.get("/api/v1/usage/summary")[2])
    assert summary["today_cny"] >= 0.2, summary

    page.goto("/")
    page.locator("[data-testid=nav-usage]").click()
    expect(page).to_have_url(re.compile(r"/usage$"))
    wait_for_chart(page, "usage-days")
    wait_for_chart(page, "usage-models")
    expect(page.locator("[data-testid=usage-today]")).to_have_text(cny(summary["today_cny"]))
    expect(page.locator("[data-testid=usage-month]")).to_have_text(cny(summary["month_cny"]))
    # the default range is the last 30 days, to today: its total is the server's figure for it
    first, last = page.locator("[data-testid=usage-from]").input_value(), page.locator("[data-testid=usage-to]").input_value()
    report = json.loads(stack.get(f"/api/v1/usage?from={first}&to={last}&group_by=day")[2])
    assert len(report["rows"]) == 30 and report["rows"][-1]["cost_cny"] >= 0.2, report
    expect(page.locator("[data-testid=usage-range-total]")).to_have_text(cny(report["cost_cny"]))
    ark_row = page.locator(f"[data-testid=usage-model-table] tr[data-model='{ARK_MODEL}']")
    expect(ark_row).to_contain_text("Seedream 4.0")
    expect(page.locator("[data-testid=usage-model-table] tr[data-model=demo]")).to_contain_text("¥0.00")

    # a preset puts its range in the URL and reloads the figures
    page.locator("[data-testid=usage-presets] [data-preset=last7]").click()
    expect(page).to_have_url(re.compile(rf"/usage\?from=\d{{4}}-\d\d-\d\d&to={last}$"))
    query7 = page.url.split("?", 1)[1]
    report7 = json.loads(stack.get(f"/api/v1/usage?{query7}&group_by=day")[2])
    assert len(report7["rows"]) == 7
    expect(page.locator("[data-testid=usage-range-total]")).to_have_text(cny(report7["cost_cny"]))
    wait_for_chart(page, "usage-days")

    # CSV export: a download link to the same range
    href = page.locator("[data-testid=csv-model]").get_attribute("href")
    assert href == f"/api/v1/usage?{query7}&group_by=model&format=csv", href
    status, headers, body = stack.get(href)
    assert status == 200 and headers["Content-Type"].startswith("text/csv"), headers
    assert ARK_MODEL in body.decode()

    # the history card and the detail show what the task cost
    page.goto("/history")
    card = page.locator(f"[data-testid=history-item][data-task-id='{ark['task_id']}']")
    expect(card.locator("[data-testid=task-cost]")).to_have_text("¥0.20")
    card.click()
    expect(page.locator("[data-testid=history-detail] [data-param=cost]")).to_have_text("¥0.20（1 张计费）")


def test_budgets_in_settings_warn_on_generate_and_refuse_over_the_cap(page: Page, stack: Stack) -> None:
    stack.generate("a windmill, e2e budget", model=ARK_MODEL)
    try:
        page.goto("/settings")
        daily = page.locator("input[data-testid=budget-daily]")
        monthly = page.locator("input[data-testid=budget-monthly]")
        expect(daily).to_have_value("")
        daily.fill("12.345")
        expect(page.locator("[data-testid=budget-daily-error]")).to_have_text("最多保留两位小数。")
        daily.fill("-1")
        expect(page.locator("[data-testid=budget-daily-error]")).to_have_text("金额不能为负数。")
        daily.fill("1000")
        monthly.fill("5000.5")
        expect(page.locator("[data-testid=budget-daily-error]")).to_have_count(0)
        page.locator("[data-testid=budget-save]").click()
        expect(page.locator(".el-message--success")).to_be_visible()
        status, _, raw = stack.get("/api/v1/usage/budgets")
        assert status == 200 and json.loads(raw) == {"daily_cny": 1000, "monthly_cny": 5000.5}
        expect(page.locator("[data-budget=daily]")).to_contain_text("上限 ¥1,000.00")
        expect(page.locator("[data-budget=monthly]")).to_contain_text("上限 ¥5,000.50")

        # a daily cap just above today's spend: over 80% used, and too little left for one Ark image
        spent = json.loads(stack.get("/api/v1/usage/summary")[2])["today_cny"]
        cap = round(spent + 0.05, 2)
        daily.fill(str(cap))
        monthly.fill("")
        page.locator("[data-testid=budget-save]").click()
        expect(page.locator("[data-budget=daily]")).to_have_attribute("data-warning", "true")

        left = cny(round(cap - spent, 4))
        # the free demo model: a warning at 80%, naming the budget and what is left
        page.goto("/?model=demo")
        notice = page.locator("[data-testid=budget-notice] li[data-budget=daily]")
        expect(notice).to_have_attribute("data-kind", "warning")
        expect(notice).to_contain_text(re.compile(rf"^每日预算已用 \d+%（上限 {re.escape(cny(cap))}），剩余 {re.escape(left)}。$"))
        # an Ark model costs more than is left: said before submitting, refused by the server
        page.locator("select[data-testid=model-select]").select_option(ARK_MODEL)
        expect(notice).to_have_attribute("data-kind", "blocked")
        expect(notice).to_contain_text(f"每日预算仅剩 {left}")
        prompt_box(page).fill("a windmill over the cap, e2e budget")
        page.locator("[data-testid=generate-button]").click()
        refused = page.locator(".el-message--error").last
        expect(refused).to_contain_text("每日预算")
        expect(refused).to_contain_text("请在设置中提高预算")
        # the same refusal in English once the UI is
        page.locator("[data-testid=lang-toggle]").click()
        page.locator("[data-testid=generate-button]").click()
        expect(page.locator(".el-message--error").last).to_contain_text("Raise the budget in Settings")
        expect(notice).to_contain_text("Daily budget: only")
    finally:
        set_budgets(stack, None, None)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshots_of_spend(page: Page, stack: Stack, screenshots: Path, lang: str, theme: str) -> None:
    """The Generate button's price (desktop and phone) and the Usage page on a phone; the Usage page
    on a desktop is in test_screenshots_of_every_page."""
    stack.generate(f"a tram at night ({lang}, {theme})", model=ARK_MODEL)
    page.goto("/")
    set_language_and_theme(page, lang, theme)
    page.goto(f"/?model={ARK_MODEL}")
    page.locator("[data-testid=group-mode]").click()
    expect(page.locator("[data-testid=generate-price]")).to_contain_text("¥")
    for device, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.locator("[data-testid=generate-actions]").screenshot(
            path=str(screenshots / f"generate-button-{lang}-{theme}-{device}.png")
        )
    page.screenshot(path=str(screenshots / f"generate-{lang}-{theme}-phone.png"))
    page.goto("/usage")
    wait_for_chart(page, "usage-days")
    wait_for_chart(page, "usage-models")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the Usage page scrolls sideways on a phone ({width} px)"
    page.screenshot(path=str(screenshots / f"usage-{lang}-{theme}-phone.png"), full_page=True)


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
