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
    """Plays uvicorn: the few answers the nginx rules are tested with.

    Its session check (what nginx asks before serving an image) plays a studio without a password:
    everybody may see images, cached publicly; `GuardedStandIn` plays one with a password."""

    protocol_version = "HTTP/1.1"
    seen: list[dict] = []
    password = False

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

    def _empty(self, status: int, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        if status != 204:
            self.send_header("Content-Length", "0")
        self.end_headers()

    def _check(self) -> None:
        cookie = self.headers.get("Cookie", "")
        uri = self.headers.get("X-Original-URI", "")
        if not self.password:
            self._empty(204, {"X-Image-Cache-Control": "public, max-age=31536000, immutable"})
        elif "sig=good" in uri:
            # A signed link opens its image without a session.
            self._empty(204, {"X-Image-Cache-Control": "private, max-age=31536000, immutable"})
        elif "studio_session=good-" in cookie or self.headers.get("Authorization") == "Bearer right":
            # "alice" owns the images whose name starts with "abc"; "bob" owns none.
            other = "studio_session=good-bob" in cookie and "/abc" in uri
            if other:
                self._empty(403)
            else:
                self._empty(204, {"X-Image-Cache-Control": "private, max-age=31536000, immutable"})
        else:
            self._empty(401)

    def do_GET(self) -> None:
        type(self).seen.append({"path": self.path, "headers": dict(self.headers)})
        if self.path == "/health":
            self._json(200, {"status": "healthy"})
        elif self.path == "/api/v1/auth/check":
            self._check()
        elif re.fullmatch(r"/images/\d{4}/\d{2}/\d{2}/[A-Za-z0-9_-]+\.thumb\.webp", self.path):
            # The API makes a thumbnail that is not on disk yet.
            body = b"RIFF made-by-the-api WEBP"
            self.send_response(200)
            self.send_header("Content-Type", "image/webp")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": "demo", "object": "model"}]})
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
        type(self).seen.append({"path": self.path, "headers": dict(self.headers), "bytes": length})
        self._json(201, {"bytes": length})


class GuardedStandIn(StandIn):
    seen: list[dict] = []
    password = True


# Names the sites below answer to, as ALLOWED_HOSTS gives them (the default is the backend's: loopback
# and this machine's names; tests/core/test_hosts.py).
SITE_HOSTS = "localhost,127.0.0.1,::1,studio.example,*.lan.example"


def start_site(root: Path, nginx_bin: str, handler: type[StandIn]) -> Iterator[dict]:
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

    api = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    port = free_port()
    render(
        root,
        nginx_bin=nginx_bin,
        port=port,
        api_port=api.server_address[1],
        data_dir=data,
        html_dir=html,
        allowed_hosts=SITE_HOSTS,
    )
    proc = subprocess.Popen(
        [nginx_bin, "-c", str(root / "nginx" / "nginx.conf"), "-e", "stderr", "-g", "daemon off;"],
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port)
        yield {"port": port, "data": data, "day": day}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        api.shutdown()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, nginx_bin: str) -> Iterator[dict]:
    yield from start_site(tmp_path_factory.mktemp("nginx-site"), nginx_bin, StandIn)


@pytest.fixture(scope="module")
def guarded_site(tmp_path_factory: pytest.TempPathFactory, nginx_bin: str) -> Iterator[dict]:
    """The same site in front of a studio with APP_PASSWORD set."""
    yield from start_site(tmp_path_factory.mktemp("nginx-guarded"), nginx_bin, GuardedStandIn)


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


# --- access (issue 10) ---------------------------------------------------------------------------------

REBIND = "rebind.attacker.example"
IMAGE = "/images/2025/01/02/abcdef0123.png"


def test_a_foreign_host_is_refused_before_anything_is_served(site: dict) -> None:
    """DNS rebinding: a page on the attacker's name, resolved to this machine, gets nothing."""
    StandIn.seen.clear()
    port = site["port"]
    for method, path in (("GET", "/"), ("GET", "/settings"), ("GET", "/api/v1/history"), ("GET", "/health"),
                         ("GET", IMAGE), ("GET", "/assets/index-abc123.js"), ("GET", "/docs"),
                         ("POST", "/api/v1/generate/text2image")):
        resp, body = request(port, method, path, body=b"{}" if method == "POST" else None,
                             headers={"Host": f"{REBIND}:{port}", "Origin": f"http://{REBIND}:{port}"})
        assert resp.status == 421, (method, path, resp.status)
        assert resp.getheader("Content-Type").startswith("application/json"), path
        error = json.loads(body)["error"]
        assert error["code"] == "host_not_allowed" and "ALLOWED_HOSTS" in error["message"], path
        assert resp.getheader("X-Frame-Options") == "DENY"
    resp, body = request(port, "GET", "/api/v1/history", headers={"Host": REBIND, "Accept-Language": "zh-CN,zh"})
    assert resp.status == 421 and "ALLOWED_HOSTS" in json.loads(body)["error"]["message"]
    assert "主机名" in json.loads(body)["error"]["message"]
    assert StandIn.seen == []  # nothing reached the API


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("localhost", 200), ("LocalHost:{port}", 200), ("127.0.0.1:{port}", 200), ("[::1]:{port}", 200),
        ("studio.example", 200), ("studio.example.:{port}", 200), ("pc.lan.example:3000", 200),
        ("a.b.lan.example", 200),
        ("lan.example", 421), ("localhost.attacker.example", 421), ("127.0.0.2", 421), ("studio.example.evil", 421),
        ("[::2]:{port}", 421),
    ],
)
def test_host_names_on_the_list_pass(site: dict, host: str, status: int) -> None:
    resp, _ = request(site["port"], "GET", "/health", headers={"Host": host.format(port=site["port"])})
    assert resp.status == status, host


def test_the_separated_images_healthcheck_names_an_allowed_host(site: dict) -> None:
    """nginx/Dockerfile's HEALTHCHECK (HTTP/1.0) must send a Host on the default list, or it gets 421."""
    text = (REPO / "nginx" / "Dockerfile").read_text()
    command = json.loads(re.search(r"^HEALTHCHECK [^\n]*\\\n\s*CMD (\[[^\n]*\])$", text, re.M).group(1))
    assert command[:2] == ["bash", "-c"]
    script = command[2].replace("/dev/tcp/127.0.0.1/80", f"/dev/tcp/127.0.0.1/{site['port']}")
    assert subprocess.run(["bash", "-c", script], timeout=10).returncode == 0


def test_client_supplied_forwarding_headers_never_reach_the_api(site: dict) -> None:
    """The API counts failed logins and generations per X-Real-IP: it must be the address nginx saw."""
    StandIn.seen.clear()
    spoofed = {"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "198.51.100.1", "X-Forwarded-Proto": "https"}
    request(site["port"], "GET", "/api/v1/models", headers=spoofed)
    request(site["port"], "GET", IMAGE, headers={**spoofed, "Cookie": "studio_session=spoof-1"})
    assert [seen["path"] for seen in StandIn.seen] == ["/api/v1/models", "/api/v1/auth/check"]
    for seen in StandIn.seen:
        headers = seen["headers"]
        assert headers["X-Real-IP"] == "127.0.0.1", seen
        assert headers["X-Forwarded-For"] == "127.0.0.1", seen
        assert headers["X-Forwarded-Proto"] == "http", seen


def test_images_need_a_session_when_the_studio_has_a_password(guarded_site: dict) -> None:
    port = guarded_site["port"]
    for headers in ({}, {"Cookie": "studio_session=bad-1"}, {"Authorization": "Bearer wrong"}):
        resp, body = request(port, "GET", IMAGE, headers=headers)
        assert resp.status == 401, headers
        assert b"\x89PNG" not in body
        assert json.loads(body)["error"]["code"] == "unauthorized"
        assert resp.getheader("Cache-Control") is None
    for headers in ({"Cookie": "theme=dark; studio_session=good-1"}, {"Authorization": "Bearer right"}):
        resp, body = request(port, "GET", IMAGE, headers=headers)
        assert resp.status == 200 and body == PNG, headers
        assert resp.getheader("Cache-Control") == "private, max-age=31536000, immutable"
    # Without a session nothing says whether an image exists.
    resp, _ = request(port, "GET", "/images/2025/01/02/nothere0123.png")
    assert resp.status == 401
    resp, _ = request(port, "GET", "/images/2025/01/02/nothere0123.png", headers={"Cookie": "studio_session=good-1"})
    assert resp.status == 404
    # The check is asked like any API request: client address, Host and the cookie.
    check = next(seen for seen in GuardedStandIn.seen if "good-1" in seen["headers"].get("Cookie", ""))
    assert check["path"] == "/api/v1/auth/check"
    assert check["headers"]["X-Real-IP"] == "127.0.0.1"
    assert check["headers"]["Host"] == f"127.0.0.1:{port}"
    assert "Content-Length" not in check["headers"] or check["headers"]["Content-Length"] == "0"


def test_the_session_check_is_cached_per_cookie_for_a_few_seconds(guarded_site: dict) -> None:
    port = guarded_site["port"]
    GuardedStandIn.seen.clear()
    for _ in range(20):
        resp, _ = request(port, "GET", IMAGE, headers={"Cookie": "studio_session=good-cached"})
        assert resp.status == 200
    resp, _ = request(port, "GET", IMAGE, headers={"Cookie": "studio_session=bad-cached"})
    assert resp.status == 401
    assert [seen["headers"].get("Cookie") for seen in GuardedStandIn.seen] == [
        "studio_session=good-cached",
        "studio_session=bad-cached",
    ]
    # Per URI too: whose image it is differs from one image to the next.
    GuardedStandIn.seen.clear()
    request(port, "GET", "/images/2025/01/02/other01234.png", headers={"Cookie": "studio_session=good-cached"})
    checks = [seen for seen in GuardedStandIn.seen if seen["path"] == "/api/v1/auth/check"]
    assert [seen["headers"].get("X-Original-URI") for seen in checks] == ["/images/2025/01/02/other01234.png"]
    # A Bearer password is never a cache key (nginx writes keys into its cache files): asked each time.
    GuardedStandIn.seen.clear()
    for _ in range(3):
        assert request(port, "GET", IMAGE, headers={"Authorization": "Bearer right"})[0].status == 200
    assert len(GuardedStandIn.seen) == 3


def test_images_stay_public_without_a_password(site: dict) -> None:
    resp, body = request(site["port"], "GET", IMAGE)
    assert resp.status == 200 and body == PNG
    assert resp.getheader("Cache-Control") == "public, max-age=31536000, immutable"


def test_a_deleted_image_is_not_served_again(site: dict) -> None:
    image = site["day"] / "deleted0123.png"
    image.write_bytes(PNG)
    path = "/images/2025/01/02/deleted0123.png"
    # Several times, new connections each: every nginx worker has seen it (each had its own cache).
    assert [request(site["port"], "GET", path)[0].status for _ in range(8)] == [200] * 8
    image.unlink()
    assert [request(site["port"], "GET", path)[0].status for _ in range(8)] == [404] * 8


def test_a_missing_thumbnail_is_asked_of_the_api(site: dict) -> None:
    thumb = site["day"] / "abcdef0123.thumb.webp"
    thumb.write_bytes(b"RIFF on-disk WEBP")
    resp, body = request(site["port"], "GET", "/images/2025/01/02/abcdef0123.thumb.webp")
    assert resp.status == 200 and body == b"RIFF on-disk WEBP"
    thumb.unlink()
    StandIn.seen.clear()
    resp, body = request(site["port"], "GET", "/images/2025/01/02/abcdef0123.thumb.webp")
    assert resp.status == 200 and body == b"RIFF made-by-the-api WEBP"
    assert resp.getheader("Cache-Control") == "public, max-age=31536000, immutable"
    assert "/images/2025/01/02/abcdef0123.thumb.webp" in [s["path"] for s in StandIn.seen]
    # A missing image of a valid name is the API's to answer (on S3 nothing is on disk: it answers a
    # presigned redirect; on disk, its 404); any other name is nginx's own 404, never asked.
    StandIn.seen.clear()
    assert request(site["port"], "GET", "/images/2025/01/02/nothere0123.png")[0].status == 404
    assert [s["path"] for s in StandIn.seen if s["path"].startswith("/images/")] == ["/images/2025/01/02/nothere0123.png"]
    StandIn.seen.clear()
    for path in ("/images/2025/01/02/.x.thumb.webp", "/images/x.thumb.webp", "/images/2025/01/02/x.svg"):
        assert request(site["port"], "GET", path)[0].status == 404, path
    assert [s["path"] for s in StandIn.seen if s["path"].startswith("/images/")] == []


def test_another_members_image_is_answered_as_missing(guarded_site: dict) -> None:
    """The check names the URI; the API's 403 (not this member's image) becomes nginx's 404."""
    port = guarded_site["port"]
    resp, body = request(port, "GET", IMAGE, headers={"Cookie": "studio_session=good-alice"})
    assert resp.status == 200 and body == PNG
    resp, body = request(port, "GET", IMAGE, headers={"Cookie": "studio_session=good-bob", "Accept-Language": "zh"})
    assert resp.status == 404 and b"\x89PNG" not in body
    assert json.loads(body)["error"] == {"code": "not_found", "message": "图片不存在。"}
    asked = [seen for seen in GuardedStandIn.seen if seen["headers"].get("Cookie") == "studio_session=good-bob"]
    assert asked[-1]["headers"]["X-Original-URI"] == IMAGE


def test_a_signed_link_opens_an_image_without_a_session(guarded_site: dict) -> None:
    port = guarded_site["port"]
    resp, body = request(port, "GET", IMAGE + "?u=alice&exp=9999999999&sig=good")
    assert resp.status == 200 and body == PNG
    resp, _ = request(port, "GET", IMAGE + "?u=alice&exp=9999999999&sig=forged")
    assert resp.status == 401


def test_the_openai_compatible_api_is_proxied(site: dict) -> None:
    resp, body = request(site["port"], "GET", "/v1/models", headers={"Authorization": "Bearer vis_x"})
    assert resp.status == 200 and json.loads(body)["data"][0]["id"] == "demo"
    seen = StandIn.seen[-1]
    assert seen["path"] == "/v1/models" and seen["headers"]["Authorization"] == "Bearer vis_x"
