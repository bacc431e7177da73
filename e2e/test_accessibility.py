"""Accessibility (issue 15, item 16): axe-core's WCAG 2 A/AA rules find nothing serious or critical
on any page, in Chinese and English, light and dark, on a desktop and on a 390x844 phone; and the
keyboard focus is visible. axe-core comes from the frontend's node_modules (npm `axe-core`)."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from .conftest import REPO, Stack
from .test_ui import DESKTOP, PAGES, PHONE, prompt_box, set_language_and_theme

AXE = REPO / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def transitions_ended(page: Page) -> None:
    """No CSS transition or animation is running: a colour caught half-way (a theme switch, a tag
    fading in) is neither the light nor the dark one, and on a loaded machine a fixed pause is not
    always long enough for them to end."""
    page.wait_for_function(
        "() => document.getAnimations().every((a) => a.playState !== 'running' || a.effect?.getTiming().iterations === Infinity)",
        timeout=10_000,
    )


def axe_findings(page: Page) -> list[dict]:
    """Serious and critical violations on the page as it is now (once its transitions have ended)."""
    transitions_ended(page)
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: make frontend-deps")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # evaluate() is not bound by the page's CSP, which refuses injected script tags
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;true")
    result = page.evaluate(
        """async (tags) => {
            const r = await axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
            return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 12).map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
                count: v.nodes.length,
            }));
        }""",
        TAGS,
    )
    return result


def settle(page: Page, name: str) -> None:
    """The page's content is there (not its loading state), and transitions have ended."""
    if name == "history":
        expect(page.locator("[data-testid=history-item]").first).to_be_visible()
    elif name == "generate":
        expect(prompt_box(page)).to_be_visible()
    else:
        expect(page.locator("main h1, main .page-head, main").first).to_be_visible()
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("device", ["desktop", "phone"])
@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_serious_or_critical_axe_finding_on_any_page(page: Page, stack: Stack, lang: str, theme: str, device: str) -> None:
    task = stack.generate(f"an accessible lighthouse ({lang}, {theme}, {device})", model="demo")
    page.set_viewport_size(DESKTOP if device == "desktop" else PHONE)
    page.goto("/")
    set_language_and_theme(page, lang, theme)
    found: dict[str, list[dict]] = {}
    for name, _nav in PAGES:
        page.goto("/" if name == "generate" else f"/{name}")
        settle(page, name)
        if findings := axe_findings(page):
            found[name] = findings
        if name == "generate":
            # a finished card in the feed: status tag, times, tools
            prompt_box(page).fill(f"a card to check ({lang}, {theme}, {device})")
            page.locator("[data-testid=generate-button]").click()
            expect(page.locator("[data-testid=task-card][data-status=completed]").first).to_be_visible(timeout=30_000)
            if findings := axe_findings(page):
                found["generate-with-card"] = findings
    page.goto(f"/history/{task['task_id']}")
    expect(page.locator("[data-testid=history-detail]")).to_be_visible()
    if findings := axe_findings(page):
        found["history-detail"] = findings
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)


def test_the_keyboard_focus_is_visible(page: Page) -> None:
    page.goto("/")
    expect(prompt_box(page)).to_be_visible()
    seen = 0
    for _ in range(12):
        page.keyboard.press("Tab")
        ring = page.evaluate(
            """() => {
                const el = document.activeElement;
                if (!el || el === document.body) return null;
                const s = getComputedStyle(el);
                const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
                const shadow = s.boxShadow && s.boxShadow !== 'none';
                // Element Plus inputs show focus on their wrapper
                const wrap = el.closest('.el-input__wrapper, .el-textarea, .el-select__wrapper');
                const wrapShadow = wrap ? getComputedStyle(wrap).boxShadow !== 'none' : false;
                return { tag: el.tagName, outline, shadow, wrapShadow };
            }"""
        )
        if ring is None:
            continue
        seen += 1
        assert ring["outline"] or ring["shadow"] or ring["wrapShadow"], ring
    assert seen >= 8
