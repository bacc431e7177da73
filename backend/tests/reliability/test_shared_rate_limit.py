"""The per-client generation limit holds across replicas (PostgreSQL): two studios on one database
allow the limit once between them, not once each. Always on the throw-away cluster of tests/pg.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.core.db import Database
from app.models.ratelimit import RateCounter
from app.services.ratelimit import SharedWindow, wait_seconds
from tests.conftest import StudioFactory


def test_the_two_bucket_estimate() -> None:
    # Fits: nothing counted yet, or room left after weighting the previous bucket.
    assert wait_seconds(5, 60, 0, 0, 10) == 0
    assert wait_seconds(5, 60, 6, 1, 45) == 0  # 6 * 0.25 + 1 + 1 = 3.5 <= 5
    # Full in this bucket: wait for the next one, and for the weight of this one to fall enough.
    assert wait_seconds(5, 60, 0, 5, 20) == pytest.approx(40 + 60 * (1 - 4 / 5))
    # Never told to wait beyond the window (a sliding window has forgotten these hits by then).
    assert wait_seconds(3, 60, 0, 3, 5) == 60
    # The previous bucket weighs too much now; it fits once its share has shrunk.
    wait = wait_seconds(5, 60, 8, 2, 15)  # 8 * 0.75 + 2 + 1 = 9 > 5
    assert wait == pytest.approx(60 * (1 - 2 / 8) - 15)
    assert 8 * (1 - (15 + wait) / 60) + 2 + 1 <= 5 + 1e-9


async def test_replicas_share_one_count(shared_url: str) -> None:
    now = [1_000_000.0]
    a_db, b_db = Database(shared_url), Database(shared_url)
    try:
        a = SharedWindow(a_db, "generate", 5, 60.0, clock=lambda: now[0])
        b = SharedWindow(b_db, "generate", 5, 60.0, clock=lambda: now[0])
        assert [await a.hit("198.51.100.7") for _ in range(3)] == [0, 0, 0]
        assert [await b.hit("198.51.100.7") for _ in range(2)] == [0, 0]
        assert await a.hit("198.51.100.7") > 0
        assert await b.hit("198.51.100.7") > 0
        assert await b.hit("203.0.113.1") == 0  # another client has its own count
        # A refused hit is not counted: after the window it fits again.
        now[0] += 121
        assert await a.hit("198.51.100.7") == 0
        async with a_db.engine.connect() as conn:
            rows = (await conn.execute(select(func.count()).select_from(RateCounter))).scalar_one()
        assert rows >= 2
    finally:
        await a_db.dispose()
        await b_db.dispose()


async def test_two_studios_allow_the_limit_once_between_them(
    studio_factory: StudioFactory, shared_url: str, tmp_path: Path
) -> None:
    a = await studio_factory(database_url_override=shared_url, generation_rate_limit_per_minute=3,
                             data_dir=tmp_path / "data")
    b = await studio_factory(database_url_override=shared_url, generation_rate_limit_per_minute=3,
                             data_dir=tmp_path / "data")
    body = {"model": "demo", "prompt": "limited"}
    answers = [
        (await studio.client.post("/api/v1/generate/text2image", json=body)).status_code
        for studio in (a, b, a, b)
    ]
    assert answers == [202, 202, 202, 429]
    refused = await a.client.post("/api/v1/generate/text2image", json=body)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"


async def test_wrong_passwords_are_counted_once_for_every_replica(
    studio_factory: StudioFactory, shared_url: str, tmp_path: Path
) -> None:
    """A guesser spreading tries over replicas gets the limit once in all, not once per replica."""
    password = "the right one"
    guarded = {"database_url_override": shared_url, "app_password": password, "data_dir": tmp_path / "data"}
    a = await studio_factory(auth_failures_per_minute=4, **guarded)
    b = await studio_factory(auth_failures_per_minute=4, **guarded)
    login = "/api/v1/auth/login"
    for i, studio in enumerate((a, b, a, b)):
        assert (await studio.client.post(login, json={"password": f"guess-{i}"})).status_code == 401
    # Both replicas now refuse this client, the right password included, by every way of presenting it.
    for studio in (a, b):
        refused = await studio.client.post(login, json={"password": password})
        assert refused.status_code == 429, refused.text
        assert "retry-after" in refused.headers
        bearer = await studio.client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {password}"})
        assert bearer.status_code == 429
    # The same stale secret sent to both replicas is one failure, not two.
    c = await studio_factory(auth_failures_per_minute=2, **guarded)
    other = {"X-Real-IP": "192.0.2.44"}
    for studio in (c, a, b):
        stale = await studio.client.get("/api/v1/tasks", headers={**other, "Cookie": "studio_session=" + "s" * 43})
        assert stale.status_code == 401
    assert (await c.client.post(login, json={"password": password}, headers=other)).status_code == 204
