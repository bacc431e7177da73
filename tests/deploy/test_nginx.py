"""nginx: both sites pass `nginx -t` once rendered, follow the site's rules, and behave as promised.
(That both are generated from one template is tests/deploy/test_nginx_template.py's.)

The behaviour tests run the rendered one-image config in a real nginx in front of a small stand-in
API (a thread in this process), so they check nginx alone, whatever state the backend is in; e2e/
repeats the important ones against the real stack.
"""

from __future__ import annotations

import gzip
import http.client
import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .conftest import REPO, free_port, render, wait_for_port

SITES = ["nginx/nginx.conf.fullstack", "nginx/nginx.conf"]
CSP_FOR_SPA = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


# --- static checks ---------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["fullstack", "separated"])
def test_rendered_config_passes_nginx_t(layout: str, tmp_path: Path, nginx_bin: str) -> None:
    render(tmp_path, nginx_bin=nginx_bin, layout=layout, port=free_port(), api_port=free_port())
    result = subprocess.run(
        [nginx_bin, "-t", "-c", str(tmp_path / "nginx" / "nginx.conf"), "-e", "stderr"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("site", SITES)
def test_site_rules(site: str) -> None:
    text = (REPO / site).read_text()
    assert "client_max_body_size 11m;" in text
    assert "location ^~ /images/ {\n        alias /app/data/output/;" in text
    assert "autoindex off;" in text
    assert "proxy_http_version 1.1;" in text
    read_timeout = int(re.search(r"^\s*proxy_read_timeout (\d+)s;", text, re.M).group(1))
    assert read_timeout >= 300
    assert "try_files $uri $uri/ /index.html;" in text
    assert "error_page 413 @payload_too_large;" in text
    for header in ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Content-Security-Policy"):
        assert re.search(rf'^\s*add_header {header} .* always;$', text, re.M), header


def test_main_config_compresses_text_types() -> None:
    text = (REPO / "nginx" / "nginx-main.conf").read_text()
    types = re.search(r"gzip_types([^;]+);", text).group(1).split()
    for mime in ("application/json", "application/javascript", "text/css", "image/svg+xml"):
        assert mime in types
    assert "text/event-stream" not in types
    assert "access_log /dev/stdout" in text and "error_log /dev/stderr" in text


# --- behaviour -------------------------------------------------------------------------------------


class StandIn(BaseHTTPRequestHandler):
    """Plays uvicorn: the few answers the nginx rules are tested with."""

    protocol_version = "HTTP/1.1"
    seen: list[dict] = []

    def log_message(self, *args: object) -> None:
        pass

    def _json(self, status: int, body: object, extra: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        StandIn.seen.append({"path": self.path, "headers": dict(self.headers)})
        if self.path == "/health":
            self._json(200, {"status": "healthy"})
        elif self.path == "/api/v1/models":
            self._json(200, {"models": [{"id": f"model-{i}", "label": "x" * 40} for i in range(200)]})
        elif re.fullmatch(r"/api/v1/(tasks/[^/]+/)?events", self.path):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b'event: task\ndata: {"status":"processing"}\n\n')
            self.wfile.flush()
            time.sleep(1.5)
            self.wfile.write(b'event: end\ndata: {"status":"completed"}\n\n')
            self.wfile.flush()
            self.close_connection = True
        else:
            self._json(404, {"error": {"code": "not_found", "message": "stand-in"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        StandIn.seen.append({"path": self.path, "headers": dict(self.headers), "bytes": length})
        self._json(201, {"bytes": length})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, nginx_bin: str) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("nginx-site")
    html = root / "html"
    (html / "assets").mkdir(parents=True)
    (html / "index.html").write_text("<!doctype html><title>studio</title><div id=app></div>")
    (html / "assets" / "index-abc123.js").write_text("console.log('studio');\n" * 200)
    data = root / "data"
    day = data / "output" / "2025" / "01" / "02"
    day.mkdir(parents=True)
    (day / "abcdef0123.png").write_bytes(PNG)
    (day / ".hidden.png").write_bytes(PNG)
    (data / "app.db").write_bytes(b"SQLite format 3\x00 secret")

    api = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    port = free_port()
    render(root, nginx_bin=nginx_bin, port=port, api_port=api.server_address[1], data_dir=data, html_dir=html)
    proc = subprocess.Popen(
        [nginx_bin, "-c", str(root / "nginx" / "nginx.conf"), "-e", "stderr", "-g", "daemon off;"],
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port)
        yield {"port": port, "data": data}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        api.shutdown()


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, data


@pytest.mark.parametrize(
    "path",
    [
        "/images/..%2f..%2fetc%2fpasswd",
        "/images/..%2f..%2f..%2f..%2fetc/passwd",
        "/images/../app.db",
        "/images/%2e%2e/app.db",
        "/images/%2e%2e%2fapp.db",
        "/images/..%2fapp.db",
        "/images../app.db",
        "/images/../../../../etc/passwd",
        "/images/2025/01/02/.hidden.png",
        "/images/2025/01/02/",
        "/images/",
        "/images/2025/",
        "/app.db",
    ],
)
def test_images_never_escape_the_output_folder(site: dict, path: str) -> None:
    resp, body = request(site["port"], "GET", path)
    assert resp.status in (400, 404), (path, resp.status)
    assert b"SQLite" not in body and b"root:" not in body and b"\x89PNG" not in body


def test_images_are_served_with_a_long_cache(site: dict) -> None:
    resp, body = request(site["port"], "GET", "/images/2025/01/02/abcdef0123.png")
    assert resp.status == 200 and body == PNG
    assert resp.getheader("Content-Type") == "image/png"
    assert resp.getheader("Cache-Control") == "public, max-age=31536000, immutable"
    assert resp.getheader("X-Content-Type-Options") == "nosniff"


def test_spa_history_fallback_and_caching(site: dict) -> None:
    for path in ("/", "/history/0123abcd", "/settings"):
        resp, body = request(site["port"], "GET", path)
        assert resp.status == 200 and b"<title>studio</title>" in body, path
        assert resp.getheader("Cache-Control") == "no-cache", path
    resp, _ = request(site["port"], "GET", "/assets/index-abc123.js", headers={"Accept-Encoding": "gzip"})
    assert resp.status == 200
    assert resp.getheader("Cache-Control") == "public, max-age=31536000, immutable"
    assert resp.getheader("Content-Encoding") == "gzip"
    # a missing file is a 404, not the SPA's HTML under a script's name
    resp, _ = request(site["port"], "GET", "/assets/missing-123.js")
    assert resp.status == 404
    resp, _ = request(site["port"], "GET", "/robots.txt")
    assert resp.status == 404


def test_security_headers_everywhere(site: dict) -> None:
    for path in ("/", "/health", "/assets/index-abc123.js", "/nope.js"):
        resp, _ = request(site["port"], "GET", path)
        assert resp.getheader("X-Content-Type-Options") == "nosniff", path
        assert resp.getheader("X-Frame-Options") == "DENY", path
        assert resp.getheader("Referrer-Policy") == "strict-origin-when-cross-origin", path
        assert resp.getheader("Content-Security-Policy") == CSP_FOR_SPA, path
        assert resp.getheader("Server") == "nginx", path  # no version


def test_api_is_proxied_with_forwarded_headers(site: dict) -> None:
    StandIn.seen.clear()
    resp, body = request(site["port"], "GET", "/health", headers={"Host": "studio.example:3000"})
    assert resp.status == 200 and json.loads(body) == {"status": "healthy"}
    headers = StandIn.seen[-1]["headers"]
    assert headers["Host"] == "studio.example:3000"
    assert headers["X-Forwarded-Proto"] == "http"
    assert headers["X-Forwarded-For"] == "127.0.0.1"
    resp, body = request(site["port"], "GET", "/api/v1/models", headers={"Accept-Encoding": "gzip"})
    assert resp.getheader("Content-Encoding") == "gzip"
    assert len(json.loads(gzip.decompress(body))["models"]) == 200
    assert resp.getheader("Cache-Control") is None  # the API decides its own caching


def test_too_large_upload_gets_a_json_413(site: dict) -> None:
    body = b"x" * (12 * 1024 * 1024)
    for lang, word in (("en-US,en;q=0.9", "too large"), ("zh-CN,zh;q=0.9", "过大")):
        resp, data = request(
            site["port"],
            "POST",
            "/api/v1/uploads",
            body=body,
            headers={"Content-Type": "application/octet-stream", "Accept-Language": lang},
        )
        assert resp.status == 413
        assert resp.getheader("Content-Type").startswith("application/json")
        error = json.loads(data)["error"]
        assert error["code"] == "payload_too_large" and word in error["message"]
    # 10 MB of image plus multipart framing still passes
    resp, data = request(site["port"], "POST", "/api/v1/uploads", body=b"x" * (10 * 1024 * 1024 + 4096))
    assert resp.status == 201 and json.loads(data)["bytes"] == 10 * 1024 * 1024 + 4096


def test_unreachable_api_is_a_json_502(tmp_path: Path, nginx_bin: str) -> None:
    port = free_port()
    render(tmp_path, nginx_bin=nginx_bin, port=port, api_port=free_port())
    proc = subprocess.Popen([nginx_bin, "-c", str(tmp_path / "nginx" / "nginx.conf"), "-e", "stderr", "-g", "daemon off;"])
    try:
        wait_for_port(port)
        resp, data = request(port, "GET", "/api/v1/models")
        assert resp.status == 502
        assert json.loads(data)["error"]["code"] == "internal_error"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("path", ["/api/v1/tasks/abc/events", "/api/v1/events"])
def test_server_sent_events_are_not_buffered(site: dict, path: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", site["port"], timeout=20)
    start = time.monotonic()
    conn.request("GET", path, headers={"Accept": "text/event-stream", "Accept-Encoding": "gzip"})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Encoding") is None
    first = resp.readline()
    first_at = time.monotonic() - start
    rest = resp.read()
    end_at = time.monotonic() - start
    assert first.startswith(b"event: task")
    assert b"event: end" in rest
    # The stand-in waits 1.5 s between the two events; a buffering proxy would deliver both at the end.
    assert first_at < 1.0 and end_at - first_at > 1.0, (first_at, end_at)
