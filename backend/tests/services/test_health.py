"""HealthService: one probe in flight for all callers, and a deadline instead of a wait."""

from __future__ import annotations

import asyncio

from app.services.health import HealthService
from tests.conftest import Studio


def _service(studio: Studio, **kw: float) -> HealthService:
    s = studio.services
    return HealthService(s.settings, s.db, s.store, auth_required=False, **kw)


async def test_concurrent_callers_share_one_database_probe(studio: Studio, monkeypatch) -> None:
    health = _service(studio)
    release = asyncio.Event()
    calls = 0

    async def ping() -> None:
        nonlocal calls
        calls += 1
        await release.wait()

    monkeypatch.setattr(studio.services.db, "ping", ping)
    reports = [asyncio.create_task(health.report()) for _ in range(20)]
    while calls == 0:
        await asyncio.sleep(0)  # let the first caller start the probe
    release.set()
    bodies = await asyncio.gather(*reports)
    assert calls == 1
    assert {b.database for b in bodies} == {"ok"}
    health.close()


async def test_a_database_that_does_not_answer_is_unhealthy_not_waited_for(studio: Studio, monkeypatch) -> None:
    health = _service(studio, probe_timeout=0.01)
    never = asyncio.Event()

    async def ping() -> None:
        await never.wait()

    monkeypatch.setattr(studio.services.db, "ping", ping)
    body = await health.report()
    assert body.status == "unhealthy"
    assert body.database == "error: no answer within 0.01 s"
    never.set()
    health.close()


async def test_database_probe_failure_is_reported(studio: Studio, monkeypatch) -> None:
    health = _service(studio)

    async def ping() -> None:
        raise OSError("disk I/O error")

    monkeypatch.setattr(studio.services.db, "ping", ping)
    body = await health.report()
    assert (body.status, body.database) == ("unhealthy", "error: OSError")
    health.close()
