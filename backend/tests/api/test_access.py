"""Access from outside (issue 10): the host allow-list (DNS rebinding), one failure counter for every
way a secret is presented, the client address behind trusted proxies only, revocable sessions, the
cheap check nginx asks before serving an image, and what /docs and /health show without a session.

The suite's app allows the Host `testserver` explicitly (tests/conftest.py); the real defaults are
tests/core/test_hosts.py's, and nginx's side is tests/deploy/test_nginx.py's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from app.models.session import LoginSession
from tests.conftest import Studio, StudioFactory

PASSWORD = "open-sesame-4b1e"
DEMO = {"model": "demo", "prompt": "rebound", "width": 256, "height": 256}
T2I = "/api/v1/generate/text2image"
LOGIN = "/api/v1/auth/login"
REBIND = "rebind.attacker.example"
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


@pytest.fixture
async def guarded(studio_factory: StudioFactory) -> Studio:
    studio: Studio = await studio_factory(app_password=PASSWORD)
    return studio


@pytest.fixture
async def peers() -> AsyncIterator[Any]:
    clients: list[httpx.AsyncClient] = []

    def make(studio: Studio, address: str) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=studio.app, client=(address, 40000)), base_url="http://testserver"
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def login(client: httpx.AsyncClient, password: str = PASSWORD, **kw: Any) -> str:
    response = await client.post(LOGIN, json={"password": password}, **kw)
    assert response.status_code == 204, response.text
    token = response.cookies["studio_session"]
    client.cookies.clear()  # each test says which cookie it sends
    return str(token)


def cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"studio_session={token}"}


# --- 1. DNS rebinding: the host allow-list ---------------------------------------------------------


async def test_a_rebound_host_can_neither_spend_nor_read(studio: Studio) -> None:
    """The issue's scenario: no password (the default), a page on an attacker's name resolved to
    127.0.0.1. Its Host and Origin agree, so the old same-origin check let it through."""
    client = studio.client
    page = {"Host": REBIND, "Origin": f"http://{REBIND}"}
    spend = await client.post(T2I, json=DEMO, headers=page)
    assert spend.status_code == 421, spend.text
    error = spend.json()["error"]
    assert error["code"] == "host_not_allowed"
    assert "ALLOWED_HOSTS" in error["message"]
    for path in ("/api/v1/history", "/api/v1/tasks", "/api/v1/models", "/health", "/docs", "/openapi.json"):
        read = await client.get(path, headers={"Host": f"{REBIND}:3000"})
        assert read.status_code == 421, (path, read.status_code)
        assert read.json()["error"]["code"] == "host_not_allowed", path
    zh = await client.get("/api/v1/history", headers={"Host": REBIND, **ZH})
    assert "ALLOWED_HOSTS" in zh.json()["error"]["message"] and "主机名" in zh.json()["error"]["message"]
    # Refused before any work: nothing was queued.
    assert (await client.get("/api/v1/tasks")).json()["items"] == []


async def test_allowed_names_ports_and_wildcards(studio_factory: StudioFactory) -> None:
    studio: Studio = await studio_factory(allowed_hosts="testserver, Studio.Example ,*.lan.example,::1")
    client = studio.client
    for host in ("studio.example", "STUDIO.example:3000", "pc.lan.example", "a.b.lan.example:80", "[::1]:3000",
                 "localhost:3000", "127.0.0.1"):  # loopback is always answered
        assert (await client.get("/api/v1/models", headers={"Host": host})).status_code == 200, host
    for host in ("lan.example", "studio.example.evil", "evilstudio.example", "127.0.0.2", "", "[::2]"):
        assert (await client.get("/api/v1/models", headers={"Host": host})).status_code == 421, host


async def test_star_allows_any_host_explicitly(studio_factory: StudioFactory) -> None:
    studio: Studio = await studio_factory(allowed_hosts="*")
    assert (await studio.client.get("/api/v1/models", headers={"Host": REBIND})).status_code == 200


async def test_origin_is_checked_against_the_allow_list_never_against_host(studio_factory: StudioFactory) -> None:
    studio: Studio = await studio_factory(
        allowed_hosts="testserver,studio.example,*.lan.example", cors_origins="https://app.example"
    )
    client = studio.client
    # Another allowed name (the SPA opened as http://studio.example:3000): not the Host, still fine.
    for origin in ("http://studio.example:3000", "https://pc.lan.example", "https://app.example", "http://testserver"):
        response = await client.post(T2I, json=DEMO, headers={"Origin": origin})
        assert response.status_code == 202, (origin, response.text)
    # Names outside the list are refused, whatever Host or X-Forwarded-Host claim.
    for origin, extra in (
        ("http://evil.example", {"X-Forwarded-Host": "evil.example"}),
        ("http://lan.example", {}),
        ("null", {}),
        ("http://testserver.evil.example", {}),
    ):
        response = await client.post(T2I, json=DEMO, headers={"Origin": origin, **extra})
        assert response.status_code == 403, (origin, response.status_code)
        assert response.json()["error"]["code"] == "unauthorized"


async def test_with_any_host_allowed_the_origin_must_still_be_the_page_itself(studio_factory: StudioFactory) -> None:
    studio: Studio = await studio_factory(allowed_hosts="*")
    client = studio.client
    same = await client.post(T2I, json=DEMO, headers={"Host": "studio.lan", "Origin": "http://studio.lan"})
    assert same.status_code == 202, same.text
    other = await client.post(T2I, json=DEMO, headers={"Host": "studio.lan", "Origin": "http://evil.example"})
    assert other.status_code == 403


# --- 2. one failure counter: login body, Bearer header, cookie --------------------------------------


async def test_bearer_guesses_are_throttled_like_logins(guarded: Studio) -> None:
    client = guarded.client
    answers = [(await client.get("/api/v1/tasks", headers=bearer(f"guess-{i}"))).status_code for i in range(200)]
    assert answers[:5] == [401] * 5
    assert set(answers[5:]) == {429}
    # Locked out: even the right secret is refused, by every way of presenting it.
    right = await client.get("/api/v1/tasks", headers=bearer(PASSWORD))
    assert right.status_code == 429
    assert right.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(right.headers["retry-after"]) <= 61
    assert (await client.post(LOGIN, json={"password": PASSWORD})).status_code == 429


async def test_wrong_logins_lock_out_the_bearer_and_a_valid_session_too(guarded: Studio) -> None:
    client = guarded.client
    token = await login(client)
    assert (await client.get("/api/v1/tasks", headers=cookie(token))).status_code == 200
    for i in range(5):
        assert (await client.post(LOGIN, json={"password": f"wrong-{i}"})).status_code == 401
    for headers in (bearer(PASSWORD), cookie(token)):
        locked = await client.get("/api/v1/tasks", headers=headers)
        assert locked.status_code == 429, headers
        assert "retry-after" in locked.headers


async def test_guessed_session_cookies_count_as_failures(guarded: Studio) -> None:
    client = guarded.client
    for i in range(5):
        assert (await client.get("/api/v1/tasks", headers=cookie(f"forged-{i:040d}"))).status_code == 401
    assert (await client.post(LOGIN, json={"password": PASSWORD})).status_code == 429


async def test_the_same_stale_secret_counts_once(guarded: Studio) -> None:
    """A browser with a cookie from before `logout-all` sends it with every request of a page load;
    that is one wrong secret, not a guesser: the user can still sign in afterwards."""
    client = guarded.client
    for _ in range(20):
        stale = await client.get("/api/v1/tasks", headers=cookie("stale-" + "0" * 40))
        assert stale.status_code == 401
    assert (await client.post(LOGIN, json={"password": "typo"})).status_code == 401
    assert (await client.post(LOGIN, json={"password": PASSWORD})).status_code == 204


async def test_a_global_cap_slows_a_distributed_guesser(studio_factory: StudioFactory, peers: Any) -> None:
    studio: Studio = await studio_factory(app_password=PASSWORD, auth_failures_global_per_minute=8)
    token = await login(studio.client)
    for i in range(8):
        guesser = peers(studio, f"198.51.100.{i + 1}")
        assert (await guesser.get("/api/v1/tasks", headers=bearer(f"guess-{i}"))).status_code == 401
    fresh = peers(studio, "192.0.2.77")
    for attempt in (fresh.get("/api/v1/tasks", headers=bearer(PASSWORD)), fresh.post(LOGIN, json={"password": PASSWORD})):
        refused = await attempt
        assert refused.status_code == 429
        assert "retry-after" in refused.headers
    # Sessions are not guessable (256 random bits), so those already signed in keep working.
    assert (await fresh.get("/api/v1/tasks", headers=cookie(token))).status_code == 200


# --- 3. the client's address: forwarded headers only from trusted proxies -----------------------------


async def test_x_forwarded_for_is_never_the_client(guarded: Studio) -> None:
    client = guarded.client
    for i in range(5):
        spoofed = {"X-Forwarded-For": f"203.0.113.{i + 1}"}
        assert (await client.post(LOGIN, json={"password": f"guess-{i}"}, headers=spoofed)).status_code == 401
    rotated = await client.post(LOGIN, json={"password": PASSWORD}, headers={"X-Forwarded-For": "203.0.113.99"})
    assert rotated.status_code == 429


async def test_x_real_ip_counts_only_from_a_trusted_proxy(guarded: Studio, peers: Any) -> None:
    direct = peers(guarded, "203.0.113.50")
    for i in range(5):
        spoofed = {"X-Real-IP": f"198.51.100.{i + 1}", "X-Forwarded-For": f"198.51.100.{i + 1}"}
        assert (await direct.post(LOGIN, json={"password": f"guess-{i}"}, headers=spoofed)).status_code == 401
    again = await direct.post(LOGIN, json={"password": PASSWORD}, headers={"X-Real-IP": "198.51.100.77"})
    assert again.status_code == 429
    # Our nginx on loopback (trusted by default) names the client it saw: another one is not locked out.
    behind_nginx = await guarded.client.post(LOGIN, json={"password": PASSWORD}, headers={"X-Real-IP": "192.0.2.8"})
    assert behind_nginx.status_code == 204


async def test_trusted_proxies_setting(studio_factory: StudioFactory, peers: Any) -> None:
    studio: Studio = await studio_factory(app_password=PASSWORD, trusted_proxies="10.0.0.0/8")
    proxy = peers(studio, "10.1.2.3")
    for i in range(5):
        guess = {"password": f"guess-{i}"}
        assert (await proxy.post(LOGIN, json=guess, headers={"X-Real-IP": "192.0.2.1"})).status_code == 401
    assert (await proxy.post(LOGIN, json={"password": PASSWORD}, headers={"X-Real-IP": "192.0.2.1"})).status_code == 429
    assert (await proxy.post(LOGIN, json={"password": PASSWORD}, headers={"X-Real-IP": "192.0.2.2"})).status_code == 204
    # Loopback is no longer trusted once the setting names other proxies.
    for i in range(5):
        local = await studio.client.post(LOGIN, json={"password": f"local-{i}"}, headers={"X-Real-IP": f"192.0.2.{50 + i}"})
        assert local.status_code == 401
    assert (await studio.client.post(LOGIN, json={"password": PASSWORD}, headers={"X-Real-IP": "192.0.2.99"})).status_code == 429


async def test_generation_limit_counts_the_address_nginx_saw(studio_factory: StudioFactory) -> None:
    studio: Studio = await studio_factory(generation_rate_limit_per_minute=2)
    client = studio.client
    codes = [
        (await client.post(T2I, json=DEMO, headers={"X-Forwarded-For": f"203.0.113.{i}"})).status_code for i in range(3)
    ]
    assert codes == [202, 202, 429]


async def test_the_scheme_comes_from_a_trusted_proxy_only(guarded: Studio, peers: Any) -> None:
    behind_tls = await guarded.client.post(LOGIN, json={"password": PASSWORD}, headers={"X-Forwarded-Proto": "https"})
    assert "secure" in behind_tls.headers["set-cookie"].lower()
    direct = await peers(guarded, "203.0.113.60").post(
        LOGIN, json={"password": PASSWORD}, headers={"X-Forwarded-Proto": "https"}
    )
    assert "secure" not in direct.headers["set-cookie"].lower()


# --- 4. sessions are revocable -------------------------------------------------------------------------


async def test_logout_ends_the_session_on_the_server(guarded: Studio) -> None:
    client = guarded.client
    token = await login(client)
    assert (await client.get("/api/v1/tasks", headers=cookie(token))).status_code == 200
    out = await client.post("/api/v1/auth/logout", headers=cookie(token))
    assert out.status_code == 204 and 'studio_session=""' in out.headers["set-cookie"]
    # A copy of the cookie made before the logout no longer works.
    assert (await client.get("/api/v1/tasks", headers=cookie(token))).status_code == 401
    assert (await client.get("/api/v1/auth/status", headers=cookie(token))).json()["authenticated"] is False


async def test_logout_all_signs_out_everywhere(guarded: Studio, peers: Any) -> None:
    laptop, phone = guarded.client, peers(guarded, "127.0.0.1")
    first, second = await login(laptop), await login(phone, headers={"User-Agent": "phone"})
    assert (await laptop.post("/api/v1/auth/logout-all")).status_code == 401  # needs a session itself
    out = await phone.post("/api/v1/auth/logout-all", headers=cookie(second))
    assert out.status_code == 204 and 'studio_session=""' in out.headers["set-cookie"]
    for token in (first, second):
        assert (await laptop.get("/api/v1/tasks", headers=cookie(token))).status_code == 401
    # The password still works, and makes a new session.
    assert (await laptop.get("/api/v1/tasks", headers=cookie(await login(laptop)))).status_code == 200


async def test_a_new_password_ends_every_session(studio_factory: StudioFactory, tmp_path: Path) -> None:
    data = tmp_path / "shared"
    before: Studio = await studio_factory(app_password=PASSWORD, data_dir=data)
    token = await login(before.client)
    after: Studio = await studio_factory(app_password="a-new-password", data_dir=data)
    assert (await after.client.get("/api/v1/tasks", headers=cookie(token))).status_code == 401
    # And the process that still has the old password does not accept it either once it looks again.
    assert await after.services.auth.sessions.valid(token) is False


async def test_only_a_hash_of_the_token_is_stored(guarded: Studio) -> None:
    token = await login(guarded.client, headers={"User-Agent": "Mozilla/5.0 (test) Studio"})
    async with guarded.services.db.read() as session:
        rows = (await session.execute(select(LoginSession))).scalars().all()
    assert len(rows) == 1
    row = rows[0]
    assert token not in str(vars(row)) and PASSWORD not in str(vars(row))
    assert row.user_agent == "Mozilla/5.0 (test) Studio"
    assert row.created_at <= row.last_seen_at < row.expires_at
    assert timedelta(days=29) < row.expires_at - row.created_at <= timedelta(days=30)


async def test_an_expired_session_is_refused(guarded: Studio) -> None:
    token = await login(guarded.client)
    async with guarded.services.db.write() as session:
        await session.execute(update(LoginSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    guarded.services.auth.sessions.forget_cached()
    assert (await guarded.client.get("/api/v1/tasks", headers=cookie(token))).status_code == 401


# --- 5. the check nginx asks before serving an image ----------------------------------------------------


async def test_auth_check_answers_204_or_401_without_a_body(guarded: Studio) -> None:
    client = guarded.client
    token = await login(client)
    ok = await client.get("/api/v1/auth/check", headers=cookie(token))
    assert ok.status_code == 204 and ok.content == b""
    assert ok.headers["x-image-cache-control"] == "private, max-age=31536000, immutable"
    assert (await client.get("/api/v1/auth/check", headers=bearer(PASSWORD))).status_code == 204
    for headers in ({}, cookie("nope-" + "0" * 40), bearer("nope")):
        refused = await client.get("/api/v1/auth/check", headers=headers)
        assert refused.status_code == 401 and refused.content == b"", headers
    # Locked out (nginx's auth_request understands only 2xx, 401 and 403): 401, not 429.
    for i in range(5):
        await client.get("/api/v1/auth/check", headers=bearer(f"guess-{i}"))
    assert (await client.get("/api/v1/auth/check", headers=cookie(token))).status_code == 401


async def test_auth_check_without_a_password_keeps_images_public(studio: Studio) -> None:
    ok = await studio.client.get("/api/v1/auth/check")
    assert ok.status_code == 204 and ok.content == b""
    assert ok.headers["x-image-cache-control"] == "public, max-age=31536000, immutable"


async def test_images_served_by_the_backend_need_the_session(guarded: Studio) -> None:
    client = guarded.client
    headers = bearer(PASSWORD)
    task_id = await guarded.submit(DEMO, headers=headers)
    await guarded.run_jobs()
    task = (await client.get(f"/api/v1/tasks/{task_id}", headers=headers)).json()
    url = task["images"][0]
    anonymous = await client.get(url)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthorized"
    image = await client.get(url, headers=cookie(await login(client)))
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    assert image.headers["cache-control"] == "private, max-age=31536000, immutable"


# --- 6. docs and the detail of /health ------------------------------------------------------------------


async def test_docs_need_a_session_when_a_password_is_set(guarded: Studio) -> None:
    client = guarded.client
    for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
        refused = await client.get(path)
        assert refused.status_code == 401, path
        assert refused.json()["error"]["code"] == "unauthorized", path
        assert (await client.get(path, headers=bearer(PASSWORD))).status_code == 200, path


async def test_docs_stay_public_without_a_password(studio: Studio) -> None:
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert (await studio.client.get(path)).status_code == 200, path


async def test_health_without_a_session_says_only_its_status(guarded: Studio, monkeypatch: pytest.MonkeyPatch) -> None:
    client = guarded.client
    brief = await client.get("/health")
    assert brief.status_code == 200 and brief.json() == {"status": "healthy"}
    detail = await client.get("/health", headers=cookie(await login(client)))
    assert detail.json()["status"] == "healthy" and detail.json()["auth_required"] is True
    assert {"version", "providers", "disk_free_bytes", "warnings"} <= set(detail.json())
    # Unhealthy keeps its 503 (container health checks read the status code).
    monkeypatch.setattr(guarded.services.store, "check_writable", lambda: "not writable")
    down = await client.get("/health")
    assert down.status_code == 503 and down.json() == {"status": "unhealthy"}


async def test_health_keeps_its_detail_without_a_password(studio: Studio) -> None:
    body = (await studio.client.get("/health")).json()
    assert body["status"] == "healthy" and body["auth_required"] is False
    assert {"version", "providers", "disk_free_bytes", "warnings"} <= set(body)
