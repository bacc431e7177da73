"""Benchmark 5: the SPA.

a) Initial JS and CSS, gzipped: the files frontend/dist/index.html loads before anything else
   (module scripts, modulepreload links, stylesheets), each gzipped at level 9 (nginx uses 5: its
   figure is printed too). Targets: JS <= 250 KB, CSS <= 60 KB.
b) Time until the gallery (/history) shows 50 thumbnails, in headless Debian Chromium (Playwright,
   executable /usr/bin/chromium; never a downloaded browser) against a warm native stack with 50
   completed demo tasks: navigation start -> 50 <img data-testid="history-thumb"> decoded. The
   viewport is tall enough for all 50 cards, so lazy loading does not hide any. Cold = new browser
   context (empty cache); warm = reload in the same context.
Skipped (with a message) when frontend/dist is not built.

Run: cd backend && ../.venv/bin/python ../bench/frontend.py
"""

from __future__ import annotations

import argparse
import gzip
from html.parser import HTMLParser
from pathlib import Path

from _common import ROOT, Procs, header, install_signal_handlers, percentile, table, verdict
from _stack import seed_gallery, start_stack

DIST = ROOT / "frontend" / "dist"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync", "--disable-quic"]


class Initial(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.js: list[str] = []
        self.css: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.js.append(a["src"] or "")
        elif tag == "link" and a.get("href"):
            rel = (a.get("rel") or "").split()
            if "modulepreload" in rel:
                self.js.append(a["href"] or "")
            elif "stylesheet" in rel:
                self.css.append(a["href"] or "")


def bundle_sizes() -> list[list[str]]:
    parser = Initial()
    parser.feed((DIST / "index.html").read_text())
    rows = []
    for kind, files, limit in (("JS", parser.js, 250), ("CSS", parser.css, 60)):
        raw = gz9 = gz5 = 0
        for src in files:
            data = (DIST / src.lstrip("/")).read_bytes()
            raw += len(data)
            gz9 += len(gzip.compress(data, 9))
            gz5 += len(gzip.compress(data, 5))
        rows.append([kind, len(files), f"{raw / 1024:.1f}", f"{gz9 / 1024:.1f}", f"{gz5 / 1024:.1f}", f"<= {limit}",
                     verdict(gz9 / 1024 <= limit)])
    return rows


WAIT_50 = """() => {
  const imgs = [...document.querySelectorAll('[data-testid="history-item"] img[data-testid="history-thumb"]')];
  return imgs.length >= 50 && imgs.slice(0, 50).every(i => i.complete && i.naturalWidth > 0);
}"""


def gallery_times(origin: str, runs: int) -> tuple[list[float], list[float], int]:
    from playwright.sync_api import sync_playwright

    cold, warm = [], []
    requests = 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            for run in range(runs + 1):
                context = browser.new_context(viewport={"width": 1440, "height": 6000})
                page = context.new_page()
                seen: list[str] = []
                page.on("request", lambda r, seen=seen: seen.append(r.url))
                page.goto(origin + "/history", wait_until="commit")
                page.wait_for_function(WAIT_50, timeout=30_000, polling=10)
                t = page.evaluate("() => performance.now()")
                if run:  # the first run warms the stack (uvicorn imports, SQLite cache, nginx)
                    cold.append(t)
                    requests = len(seen)
                page.reload(wait_until="commit")
                page.wait_for_function(WAIT_50, timeout=30_000, polling=10)
                t = page.evaluate("() => performance.now()")
                if run:
                    warm.append(t)
                context.close()
        finally:
            browser.close()
    return cold, warm, requests


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    install_signal_handlers()
    header("Frontend: initial bundle and gallery time")
    if not (DIST / "index.html").is_file():
        print("  frontend/dist is not built (make frontend-build): skipped")
        return
    print(table(bundle_sizes(), ["initial", "files", "raw KB", "gzip -9 KB", "gzip -5 (nginx) KB", "target", ""]))
    if not Path(CHROMIUM).exists():
        print(f"  {CHROMIUM} not installed (make system-browser): gallery timing skipped")
        return
    with Procs() as procs:
        stack = start_stack(procs)
        seed_gallery(stack.origin, 50, size="1024x1024")
        cold, warm, requests = gallery_times(stack.origin, args.runs)
    print()
    print(table([["cold (new context)", f"{percentile(cold, 50):.0f}", f"{max(cold):.0f}", requests],
                 ["warm (reload)", f"{percentile(warm, 50):.0f}", f"{max(warm):.0f}", ""]],
                ["/history -> 50 thumbnails shown", "p50 ms", "max ms", "requests"]))
    print(f"  {args.runs} runs each after one warm-up; headless Debian chromium, 1440x6000 viewport, same machine")


if __name__ == "__main__":
    main()
