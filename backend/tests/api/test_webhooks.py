"""Webhooks: a receiver on 127.0.0.1 gets one signed delivery per finished task, retried after a
500; hosts off WEBHOOK_HOSTS are refused; redirects are not followed; replicas insert once."""

from __future__ import annotations

import hashlib
import hmac
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web
from sqlalchemy import func, select

from app.models.webhook import WebhookDelivery
from app.services.webhooks import ROUND_GAP, WebhookService
from tests.conftest import Studio, StudioFactory


@dataclass
class Receiver:
    url: str
    answers: list[int] = field(default_factory=list)  # statuses to answer, in order; then 200
    seen: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = Receiver(url=f"http://127.0.0.1:{port}/hook")

    async def hook(request: web.Request) -> web.Response:
        box.seen.append((dict(request.headers), await request.read()))
        status = box.answers.pop(0) if box.answers else 200
        if status == 302:
            raise web.HTTPFound("http://127.0.0.1:1/elsewhere")
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield box
    finally:
        await runner.cleanup()


def _verify(secret: str, headers: dict[str, str], body: bytes) -> None:
    stamp = headers["X-Studio-Timestamp"]
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Studio-Signature"], f"sha256={expected}")


async def _studio(factory: StudioFactory, receiver: Receiver) -> Studio:
    studio: Studio = await factory(webhook_hosts=receiver.url.split("/")[2])
    return studio


async def _add(studio: Studio, url: str, events: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url, "description": "ci"}
    if events is not None:
        body["events"] = events
    r = await studio.client.post("/api/v1/webhooks", json=body)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def test_a_completed_task_is_delivered_once_signed_and_retried_after_a_500(
    studio_factory: StudioFactory, receiver: Receiver
) -> None:
    studio = await _studio(studio_factory, receiver)
    hook = await _add(studio, receiver.url)
    assert hook["secret"].startswith("whsec_")
    listed = (await studio.client.get("/api/v1/webhooks")).json()["items"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]

    task_id = await studio.submit({"model": "demo", "prompt": "hooked"})
    await studio.run_jobs()
    receiver.answers = [500]
    webhooks = studio.services.webhooks
    await webhooks.run_once()  # 500: kept, due again at once (the tests' backoff scale is 0)
    await webhooks.run_once()  # 200
    await webhooks.run_once()  # nothing more to do
    assert len(receiver.seen) == 2
    first, second = receiver.seen
    assert first[0]["X-Studio-Delivery"] == second[0]["X-Studio-Delivery"]
    for headers, body in receiver.seen:
        _verify(hook["secret"], headers, body)
        assert headers["X-Studio-Event"] == "task.completed"
        payload = orjson.loads(body)
        assert payload["event"] == "task.completed" and payload["task"]["task_id"] == task_id
        assert payload["task"]["status"] == "completed" and payload["task"]["outputs"]

    log = (await studio.client.get(f"/api/v1/webhooks/{hook['id']}/deliveries")).json()["items"]
    assert [(d["task_id"], d["status"], d["attempts"], d["last_status"]) for d in log] == [
        (task_id, "delivered", 2, 200)
    ]


async def test_failed_tasks_only_reach_hooks_that_asked(studio_factory: StudioFactory, receiver: Receiver) -> None:
    studio = await _studio(studio_factory, receiver)
    await _add(studio, receiver.url, ["task.failed"])
    await studio.submit({"model": "demo", "prompt": "fine"})
    failing = await studio.submit({"model": "demo", "prompt": "broken [demo:fail]"})
    await studio.run_jobs()
    assert (await studio.task(failing))["status"] == "failed"
    await studio.services.webhooks.run_once()
    events = [(h["X-Studio-Event"], orjson.loads(b)["task"]["task_id"]) for h, b in receiver.seen]
    assert events == [("task.failed", failing)]


async def test_hosts_off_the_list_are_refused(studio_factory: StudioFactory, receiver: Receiver) -> None:
    studio = await _studio(studio_factory, receiver)
    for url in ("http://169.254.169.254/latest", "http://user:pw@" + receiver.url.split("//")[1], "file:///etc/passwd",
                "http://127.0.0.1:1/other-port"):
        r = await studio.client.post("/api/v1/webhooks", json={"url": url}, headers={"Accept-Language": "zh-CN"})
        assert r.status_code == 422, url
        assert r.json()["error"]["code"] == "webhook_host_not_allowed"
        assert "WEBHOOK_HOSTS" in r.json()["error"]["message"]
    bad_event = await studio.client.post("/api/v1/webhooks", json={"url": receiver.url, "events": ["task.eaten"]})
    assert bad_event.status_code == 422


async def test_redirects_are_not_followed_and_attempts_give_up(
    studio_factory: StudioFactory, receiver: Receiver
) -> None:
    studio = await _studio(studio_factory, receiver)
    hook = await _add(studio, receiver.url)
    await studio.submit({"model": "demo", "prompt": "moved"})
    await studio.run_jobs()
    receiver.answers = [302] * 20
    for _ in range(10):
        await studio.services.webhooks.run_once()
    log = (await studio.client.get(f"/api/v1/webhooks/{hook['id']}/deliveries")).json()["items"]
    assert log[0]["status"] == "failed" and log[0]["attempts"] == 8
    assert log[0]["last_error"] == "redirects are not followed"
    assert len(receiver.seen) == 8  # and never the redirect's target


async def test_two_replicas_make_one_delivery(studio_factory: StudioFactory, receiver: Receiver) -> None:
    studio = await _studio(studio_factory, receiver)
    await _add(studio, receiver.url)
    await studio.submit({"model": "demo", "prompt": "seen twice"})
    await studio.run_jobs()
    s = studio.services
    other = WebhookService(s.db, s.settings, s.upstream.session, s.tasks, s.events)
    assert await s.webhooks.enqueue_finished() == 1
    assert await other.enqueue_finished() == 0
    async with s.db.read() as session:
        assert (await session.execute(select(func.count()).select_from(WebhookDelivery))).scalar_one() == 1


async def test_disable_and_delete(studio_factory: StudioFactory, receiver: Receiver) -> None:
    studio = await _studio(studio_factory, receiver)
    hook = await _add(studio, receiver.url)
    r = await studio.client.patch(f"/api/v1/webhooks/{hook['id']}", json={"enabled": False})
    assert r.status_code == 200 and r.json()["enabled"] is False
    await studio.submit({"model": "demo", "prompt": "quiet"})
    await studio.run_jobs()
    await studio.services.webhooks.run_once()
    assert receiver.seen == []
    assert (await studio.client.delete(f"/api/v1/webhooks/{hook['id']}")).status_code == 204
    assert (await studio.client.delete(f"/api/v1/webhooks/{hook['id']}")).status_code == 404
    assert (await studio.client.get(f"/api/v1/webhooks/{hook['id']}/deliveries")).status_code == 404


async def test_only_admins_manage_webhooks(studio_factory: StudioFactory) -> None:
    from tests.api.test_users import ADMIN, PASSWORD, make_member, signed_in

    guarded = await studio_factory(app_password=PASSWORD, webhook_hosts="127.0.0.1:9")
    await make_member(guarded, "carol")
    async with signed_in(guarded, "carol") as carol:
        assert (await carol.get("/api/v1/webhooks")).status_code == 403
        made = await carol.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"})
        assert made.status_code == 403 and made.json()["error"]["code"] == "forbidden"
    made = await guarded.client.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=ADMIN)
    assert made.status_code == 201


async def test_a_round_with_nothing_due_writes_nothing(
    studio_factory: StudioFactory, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop runs on every task change: with no delivery due it must not take the database's
    one writer from the jobs (it claimed with an UPDATE every round, hooks or not)."""
    studio = await _studio(studio_factory, receiver)
    db = studio.services.db
    writes = 0
    real = db.run_write

    async def counting(fn: Any) -> Any:
        nonlocal writes
        writes += 1
        return await real(fn)

    monkeypatch.setattr(db, "run_write", counting)
    await studio.services.webhooks.run_once()  # no webhook at all
    assert writes == 0
    monkeypatch.setattr(db, "run_write", real)
    await _add(studio, receiver.url)
    await studio.submit({"model": "demo", "prompt": "delivered, then quiet"})
    await studio.run_jobs()
    await studio.services.webhooks.run_once()
    assert len(receiver.seen) == 1
    monkeypatch.setattr(db, "run_write", counting)
    await studio.services.webhooks.run_once()  # a hook, its delivery done: nothing due
    assert writes == 0
    assert len(receiver.seen) == 1


async def test_a_burst_of_task_changes_makes_a_few_rounds_not_one_each(
    studio_factory: StudioFactory, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each round reads the database; at 100 jobs a second a round per change was a read per change
    on the loop the jobs share (3 % of its time in a burst)."""
    import asyncio

    studio = await _studio(studio_factory, receiver)
    service = WebhookService(studio.services.db, studio.services.settings, studio.services.upstream.session,
                             studio.services.tasks, studio.services.events)
    rounds = 0

    async def counted() -> None:
        nonlocal rounds
        rounds += 1

    monkeypatch.setattr(service, "run_once", counted)
    service.start()
    loop = asyncio.get_running_loop()
    try:
        await asyncio.sleep(0.05)
        started = loop.time()
        for _ in range(100):  # 100 task changes in about a second (longer on a loaded machine)
            studio.services.events.publish("t" * 32)
            await asyncio.sleep(0.01)
        took = loop.time() - started
    finally:
        await service.stop()
    # One round per quarter second at most (plus the first and the one in progress), not one each.
    assert 1 <= rounds <= took / ROUND_GAP + 2 < 100, (rounds, took)
