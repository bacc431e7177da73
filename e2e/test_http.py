"""HTTP through nginx on the real stack: what the browser cannot easily show."""

from __future__ import annotations

import http.client
import json
import re
import time
import uuid

import pytest

from .conftest import Stack

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def raw_get(stack: Stack, path: str) -> tuple[int, bytes]:
    """GET exactly this path (urllib and browsers would tidy `..` away)."""
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, body


@pytest.mark.parametrize(
    "path",
    [
        "/images/..%2f..%2fetc%2fpasswd",
        "/images/..%2f..%2f..%2f..%2f..%2f..%2fetc/passwd",
        "/images/../app.db",
        "/images/%2e%2e/app.db",
        "/images/%2e%2e%2fapp.db",
        "/images/..%2fapp.db",
        "/images../app.db",
        "/images/",
        "/app.db",
        "/images/../../../../etc/passwd",
    ],
)
def test_no_file_outside_the_image_folder(stack: Stack, path: str) -> None:
    status, body = raw_get(stack, path)
    assert status in (400, 404), (path, status)
    assert b"root:" not in body and b"SQLite format" not in body


def test_generated_image_is_served_by_nginx_with_long_cache(stack: Stack) -> None:
    task = stack.generate("a lighthouse at dusk, e2e http")
    url = task["images"][0]
    assert url.startswith("/images/")
    status, headers, body = stack.get(url)
    assert status == 200 and body.startswith(PNG_MAGIC)
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert (stack.data_dir / "output" / url.removeprefix("/images/")).read_bytes() == body


def test_oversized_upload_is_refused_by_nginx_with_json(stack: Stack) -> None:
    boundary = uuid.uuid4().hex
    payload = PNG_MAGIC + b"\x00" * (12 * 1024 * 1024)
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.png\"\r\n"
        f"Content-Type: image/png\r\n\r\n"
    ).encode() + payload + f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=60)
    conn.request("POST", "/api/v1/uploads", body=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    resp = conn.getresponse()
    data = resp.read()
    assert resp.status == 413
    assert resp.getheader("Content-Type").startswith("application/json")
    assert json.loads(data)["error"]["code"] == "payload_too_large"


def test_assets_are_immutable_and_the_page_is_not_cached(stack: Stack) -> None:
    status, headers, html = stack.get("/")
    assert status == 200 and headers["Cache-Control"] == "no-cache"
    assets = re.findall(rb'(/assets/[^"\']+\.(?:js|css))', html)
    assert assets, "index.html references no /assets/ file"
    status, headers, _ = stack.get(assets[0].decode(), headers={"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers.get("Content-Encoding") == "gzip"
    # a deep link is the SPA, not a 404
    status, _, deep = stack.get("/history/does-not-matter")
    assert status == 200 and deep == html


def test_security_headers(stack: Stack) -> None:
    for path in ("/", "/health", "/api/v1/models"):
        status, headers, _ = stack.get(path)
        assert status == 200, path
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert "strict-origin" in headers["Referrer-Policy"]
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "connect-src 'self'" in csp


def test_task_events_stream_through_nginx_as_they_happen(stack: Stack) -> None:
    """The first event must arrive while the task is still running (the fake Ark takes 1.5 s)."""
    status, body = stack.post_json(
        "/api/v1/generate/text2image", {"model": "doubao-seedream-4-0-250828", "prompt": "e2e sse through nginx"}
    )
    assert status == 202, body
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=60)
    start = time.monotonic()
    conn.request("GET", f"/api/v1/tasks/{body['task_id']}/events", headers={"Accept": "text/event-stream"})
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("Content-Type").startswith("text/event-stream")
    events: list[tuple[float, str, dict | str]] = []
    name, data = None, []
    while True:
        line = resp.readline()
        if not line:
            break
        line = line.decode().rstrip("\r\n")
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data.append(line.split(":", 1)[1].strip())
        elif line == "" and name:
            payload = "\n".join(data)
            try:
                parsed = json.loads(payload)
            except ValueError:
                parsed = payload
            events.append((time.monotonic() - start, name, parsed))
            if name == "end":
                break
            name, data = None, []
    conn.close()
    tasks = [event for event in events if event[1] == "task"]
    assert tasks and events[-1][1] == "end", events
    first_at, _, first = tasks[0]
    assert first["status"] in ("pending", "processing"), first
    assert tasks[-1][2]["status"] == "completed", tasks[-1]
    assert events[-1][0] - first_at > 1.0, [(round(t, 2), n) for t, n, _ in events]
