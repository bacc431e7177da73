"""The SPA's index.html runs under the Content-Security-Policy nginx sends with it.

A script the CSP blocks is a console error on every page, and for the theme script a light flash
in dark mode. Checked through a real nginx with the native site, for the source index.html (with
frontend/public/, which Vite copies as it is) and for the build in frontend/dist when there is one.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser

import pytest

from .conftest import REPO, free_port, render, wait_for_port

FRONTEND = REPO / "frontend"


@dataclass
class Script:
    attrs: dict[str, str | None]
    body: str = ""
    in_head: bool = False


class Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[Script] = []
        self._open: Script | None = None
        self._in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "head":
            self._in_head = True
        if tag == "script":
            self._open = Script(dict(attrs), in_head=self._in_head)

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self._in_head = False
        if tag == "script" and self._open is not None:
            self.found.append(self._open)
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.body += data


def scripts_of(html: str) -> list[Script]:
    parser = Scripts()
    parser.feed(html)
    return parser.found


def script_sources(csp: str) -> list[str]:
    """The sources scripts may come from: script-src, else default-src."""
    directives = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            directives.setdefault(words[0].lower(), words[1:])
    return directives.get("script-src", directives.get("default-src", []))


def inline_allowed(body: str, sources: list[str]) -> bool:
    """CSP level 3: a hash allows that script; 'unsafe-inline' counts only when no hash or nonce is listed."""
    digest = "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
    if digest in sources:
        return True
    hashes_or_nonces = any(s.startswith(("'sha256-", "'sha384-", "'sha512-", "'nonce-")) for s in sources)
    return "'unsafe-inline'" in sources and not hashes_or_nonces


def test_inline_allowed_follows_the_csp_rules() -> None:
    body = "console.log(1)"
    digest = "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
    assert not inline_allowed(body, ["'self'"])
    assert inline_allowed(body, ["'self'", "'unsafe-inline'"])
    assert inline_allowed(body, ["'self'", digest])
    assert not inline_allowed(body, ["'self'", "'unsafe-inline'", "'sha256-other='"])


@pytest.fixture(scope="module", params=["source", "built"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, nginx_bin: str) -> Iterator[dict]:
    """nginx (the native site) serving index.html and its files: the source one or frontend/dist."""
    root = tmp_path_factory.mktemp(f"csp-{request.param}")
    html = root / "html"
    if request.param == "source":
        shutil.copytree(FRONTEND / "public", html)
        shutil.copy(FRONTEND / "index.html", html / "index.html")
    else:
        if not (FRONTEND / "dist" / "index.html").is_file():
            pytest.skip("no frontend build (make frontend-build); the source index.html is checked")
        shutil.copytree(FRONTEND / "dist", html)
    port = free_port()
    render(root, nginx_bin=nginx_bin, port=port, api_port=free_port(), html_dir=html)
    proc = subprocess.Popen(
        [nginx_bin, "-c", str(root / "nginx" / "nginx.conf"), "-e", "stderr", "-g", "daemon off;"],
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port)
        yield {"port": port, "kind": request.param}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body


def test_inline_scripts_of_index_html_are_allowed_by_the_csp(served: dict) -> None:
    status, headers, body = get(served["port"], "/")
    assert status == 200
    sources = script_sources(headers["content-security-policy"])
    blocked = [
        s.body.strip()[:60]
        for s in scripts_of(body.decode())
        if "src" not in s.attrs and s.body.strip() and not inline_allowed(s.body, sources)
    ]
    assert not blocked, f"inline scripts the CSP blocks (script-src {' '.join(sources)}): {blocked}"


def test_scripts_of_index_html_are_served_from_self(served: dict) -> None:
    status, headers, body = get(served["port"], "/")
    sources = script_sources(headers["content-security-policy"])
    external = [s for s in scripts_of(body.decode()) if s.attrs.get("src")]
    assert external
    for script in external:
        src = script.attrs["src"] or ""
        assert src.startswith("/") and not src.startswith("//"), src
        assert "'self'" in sources
        if served["kind"] == "source" and script.attrs.get("type") == "module":
            continue  # /src/main.ts: Vite's entry, replaced by the built bundle
        status, file_headers, _ = get(served["port"], src)
        assert status == 200, src
        assert file_headers["content-type"].split(";")[0] in ("application/javascript", "text/javascript"), src


def test_theme_script_runs_before_first_paint(served: dict) -> None:
    """No light flash in dark mode: the theme is set by a blocking script in <head>."""
    _, _, body = get(served["port"], "/")
    theme = [s for s in scripts_of(body.decode()) if "theme" in (s.attrs.get("src") or "")]
    assert len(theme) == 1
    script = theme[0]
    assert script.in_head
    assert not {"async", "defer"} & set(script.attrs) and script.attrs.get("type") in (None, "text/javascript")
    _, _, code = get(served["port"], script.attrs["src"] or "")
    assert b"vis.theme" in code and b"classList.add('dark')" in code
