"""Access control (DESIGN.md section 6): APP_PASSWORD, session cookie, Bearer, login throttling,
Origin check on state-changing requests, per-client generation rate limit, and the warning when
credentials are configured without a password."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from tests.conftest import Studio, StudioFactory
from tests.reliability.conftest import APP_PASSWORD, ARK_KEY

DEMO = {"model": "demo", "prompt": "guarded", "width": 256, "height": 256}
# Routes anyone may call: signing in and out, and asking whether one is (the check answers 401).
OPEN = ("/api/v1/auth/login", "/api/v1/auth/logout", "/api/v1/auth/status")


@pytest.fixture
async def guarded(studio_factory: StudioFactory) -> Studio:
    studio: Studio = await studio_factory(app_password=APP_PASSWORD, ark_api_key=ARK_KEY)
    return studio


def _api_routes(studio: Studio) -> list[tuple[str, str]]:
    routes = []
    for path, operations in studio.app.openapi()["paths"].items():
        if path.startswith("/api/"):
            for method in operations:
                routes.append((method.upper(), re.sub(r"\{[^}]+\}", "0" * 32, path)))
    return routes


STREAMS = {"/api/v1/events"}


async def test_every_api_route_needs_a_session_or_bearer(guarded: Studio) -> None:
    client = guarded.client
    routes = _api_routes(guarded)
    assert len(routes) >= 15
    for method, path in routes:
        response = await client.request(method, path)
        if path in OPEN:
            assert response.status_code != 401, (method, path)
            continue
        if path == "/api/v1/auth/check":
            assert response.status_code == 401 and response.content == b""
            assert (await client.get(path, headers={"Authorization": f"Bearer {APP_PASSWORD}"})).status_code == 204
            continue
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.json()["error"]["code"] == "unauthorized"
        wrong = await client.request(method, path, headers={"Authorization": "Bearer not-the-password"})
        assert wrong.status_code == 401, (method, path)
        if path in STREAMS:
            # Endless by design (the ASGI test client would wait for its end); served to a
            # signed-in client in tests/api/test_live_channel.py.
            continue
        right = await client.request(method, path, headers={"Authorization": f"Bearer {APP_PASSWORD}"})
        assert right.status_code != 401, (method, path)
        assert right.status_code < 500, (method, path, right.text[:200])
    assert (await client.get("/health")).json() == {"status": "healthy"}
    health = await client.get("/health", headers={"Authorization": f"Bearer {APP_PASSWORD}"})
    assert health.status_code == 200 and health.json()["auth_required"] is True
    assert (await client.get("/api/v1/auth/status")).json() == {"auth_required": True, "authenticated": False, "user": None}


async def test_login_sets_a_strict_httponly_cookie(guarded: Studio) -> None:
    client = guarded.client
    wrong = await client.post("/api/v1/auth/login", json={"password": "nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthorized"
    assert "set-cookie" not in wrong.headers
    ok = await client.post("/api/v1/auth/login", json={"password": APP_PASSWORD})
    assert ok.status_code == 204
    cookie = ok.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "samesite", "path", "max-age"} <= attributes, cookie
    assert re.search(r"(?i)samesite=strict", cookie), cookie
    assert APP_PASSWORD not in cookie
    assert (await client.get("/api/v1/tasks")).status_code == 200  # the cookie jar carries it
    assert (await client.get("/api/v1/auth/status")).json()["authenticated"] is True
    # A forged or tampered session is refused.
    value = client.cookies["studio_session"]
    client.cookies.clear()
    for forged in (value[:-1] + ("0" if value[-1] != "0" else "1"), "9999999999.x." + "0" * 64, value + ".x", ""):
        response = await client.get("/api/v1/tasks", headers={"Cookie": f"studio_session={forged}"})
        assert response.status_code == 401, forged
    logout = await client.post("/api/v1/auth/logout")
    assert logout.status_code == 204 and "studio_session" in logout.headers["set-cookie"]


async def test_login_attempts_are_throttled(guarded: Studio) -> None:
    client = guarded.client
    for i in range(5):
        assert (await client.post("/api/v1/auth/login", json={"password": f"guess-{i}"})).status_code == 401
    blocked = await client.post("/api/v1/auth/login", json={"password": APP_PASSWORD})
    assert blocked.status_code == 429, blocked.text
    assert blocked.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(blocked.headers["retry-after"]) <= 61
    # Another client (behind nginx: X-Real-IP) is not locked out by the first one's failures.
    other = await client.post("/api/v1/auth/login", json={"password": APP_PASSWORD}, headers={"X-Real-IP": "203.0.113.9"})
    assert other.status_code == 204


async def test_foreign_origin_is_refused_on_state_changing_requests(guarded: Studio) -> None:
    client = guarded.client
    bearer = {"Authorization": f"Bearer {APP_PASSWORD}"}
    # (Ports are not compared: the allow-list names hosts, tests/api/test_access.py.)
    for origin in ("https://evil.example", "null", "http://testserver.evil.example", "ftp://testserver"):
        for method, path, body in (
            ("POST", "/api/v1/generate/text2image", DEMO),
            ("POST", "/api/v1/auth/login", {"password": APP_PASSWORD}),
            ("DELETE", "/api/v1/history/" + "0" * 32, None),
            ("PATCH", "/api/v1/history/" + "0" * 32, {"favorite": True}),
        ):
            response = await client.request(method, path, json=body, headers=bearer | {"Origin": origin})
            assert response.status_code == 403, (origin, method, path, response.status_code)
            assert response.json()["error"]["code"] == "unauthorized"
            assert "set-cookie" not in response.headers
    # Same origin, and reads from anywhere, pass.
    same = await client.post("/api/v1/generate/text2image", json=DEMO, headers=bearer | {"Origin": "http://testserver"})
    assert same.status_code == 202
    read = await client.get("/api/v1/tasks", headers=bearer | {"Origin": "https://evil.example"})
    assert read.status_code == 200


async def test_generation_rate_limit_per_client(studio_factory: StudioFactory) -> None:
    studio: Studio = await studio_factory(generation_rate_limit_per_minute=3)
    client = studio.client
    ids = [(await client.post("/api/v1/generate/text2image", json=DEMO)).json()["task_id"] for _ in range(2)]
    form = await client.post("/api/v1/generate/image2image", data={"prompt": "p", "model": "demo"},
                             files=[("images", ("a.png", b"\x89PNG\r\n\x1a\nbroken", "image/png"))])
    assert form.status_code == 422  # counted, then refused for its content
    for path, kwargs in (
        ("/api/v1/generate/text2image", {"json": DEMO}),
        ("/api/v1/generate/image2image", {"json": DEMO | {"images": []}}),
    ):
        limited = await client.post(path, **kwargs)
        assert limited.status_code == 429, (path, limited.text)
        assert limited.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(limited.headers["retry-after"]) <= 61
    await studio.run_jobs()
    # Retry makes a new generation too: it must not slip past the limit.
    retry = await client.post(f"/api/v1/tasks/{ids[0]}/retry")
    assert retry.status_code == 429, retry.text
    # Other clients are not affected.
    other = await client.post("/api/v1/generate/text2image", json=DEMO, headers={"X-Real-IP": "198.51.100.7"})
    assert other.status_code == 202


async def test_warning_when_credentials_without_password(
    studio_factory: StudioFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="app"):
        open_studio: Studio = await studio_factory(ark_api_key=ARK_KEY)
    warnings = (await open_studio.client.get("/health")).json()["warnings"]
    assert [w["code"] for w in warnings] == ["no_app_password"], warnings
    (warning,) = warnings
    assert "APP_PASSWORD" in warning["message"] and "credit" in warning["message"]
    assert "APP_PASSWORD" in warning["message_zh"] and "余额" in warning["message_zh"]
    assert any(r.getMessage() == "security.no_password" for r in caplog.records)
    assert all(ARK_KEY not in r.getMessage() and ARK_KEY not in str(r.__dict__) for r in caplog.records)


async def test_no_warning_with_a_password_or_without_credentials(studio_factory: StudioFactory, tmp_path: Path) -> None:
    guarded: Studio = await studio_factory(app_password=APP_PASSWORD, ark_api_key=ARK_KEY)
    health = await guarded.client.get("/health", headers={"Authorization": f"Bearer {APP_PASSWORD}"})
    assert health.json()["warnings"] == []
    demo_only: Studio = await studio_factory(data_dir=tmp_path / "other")
    assert (await demo_only.client.get("/health")).json()["warnings"] == []
