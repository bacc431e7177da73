"""Shared pieces of the reliability suite: canary credentials, fakes with a few extra faults, and
a studio wired to both fakes whose client records every status the API answered.

The credentials are distinctive strings so the leak test can grep for them anywhere.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from tests.conftest import Studio, StudioFactory
from tests.fakes.ark import FakeArkServer
from tests.fakes.visual import FakeVisualServer
from tests.pg import Cluster

ARK_KEY = "ark-CANARY-5e1f7a9d3b2c4e6f"
VOLC_AK = "AKLTCANARYak7f3e9d1b5c"
VOLC_SK = "CANARYsk-4f1d3c7b9a0e2d6c8b"
APP_PASSWORD = "pw-CANARY-9c4e2a7f1b"
SECRETS = (ARK_KEY, VOLC_AK, VOLC_SK, APP_PASSWORD)

SEEDREAM_40 = "doubao-seedream-4-0-250828"
JIMENG_30 = "jimeng_t2i_v30"  # async: submit + poll
GENERAL_30 = "high_aes_general_v30l_zt2i"  # sync: CVProcess


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Planned:
    """Answers the next API requests from ``plan`` before the fake's own logic: an int is an HTTP
    status with an HTML body (a gateway's 502/503), ``"stall"`` sends headers and then nothing,
    ``"echo-auth"`` is a 401 whose message quotes the Authorization header it got."""

    plan: list[int | str]

    async def planned(self, request: web.Request, content_type: str) -> web.StreamResponse | None:
        if not self.plan:
            return None
        step = self.plan.pop(0)
        await request.read()
        if step == "stall":
            return await self.stalled_after_headers(request, content_type)  # type: ignore[attr-defined]
        if step == "echo-auth":
            # An upstream that quotes the credentials it received back in its error message.
            auth = request.headers.get("Authorization", "")
            return web.json_response(
                {"error": {"code": "AuthenticationError", "message": f"rejected header {auth}"},
                 "ResponseMetadata": {"Error": {"Code": "SignatureDoesNotMatch", "Message": f"got {auth}"}}},
                status=401,
            )
        return web.Response(
            status=int(step), text=f"<html><body><h1>{step} Bad Gateway</h1>nginx</body></html>", content_type="text/html"
        )


class ArkFake(_Planned, FakeArkServer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan = []

    async def _generations(self, request: web.Request) -> web.StreamResponse:
        return await self.planned(request, "application/json") or await super()._generations(request)


class VisualFake(_Planned, FakeVisualServer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan = []

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        return await self.planned(request, "application/json") or await super()._handle(request)


@pytest.fixture
async def ark_fake() -> AsyncIterator[ArkFake]:
    async with ArkFake(api_key=ARK_KEY, timeout_seconds=5.0) as fake:
        yield fake


@pytest.fixture
async def visual_fake() -> AsyncIterator[VisualFake]:
    async with VisualFake(access_key=VOLC_AK, secret_key=VOLC_SK, timeout_seconds=5.0) as fake:
        fake.pending_polls = 1
        yield fake


@dataclass
class StatusLog:
    """Every (method, path, status) the API answered through the recorded client."""

    seen: list[tuple[str, str, int]] = field(default_factory=list)

    async def hook(self, response: httpx.Response) -> None:
        self.seen.append((response.request.method, response.request.url.path, response.status_code))

    @property
    def server_errors(self) -> list[tuple[str, str, int]]:
        # 507 insufficient_storage (a full disk) and /health's 503 (unhealthy) are documented
        # answers, not crashes.
        return [s for s in self.seen if s[2] >= 500 and s[2] != 507 and not (s[1] == "/health" and s[2] == 503)]


def upstream_settings(ark: ArkFake | None, visual: VisualFake | None, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"result_url_hosts": ["127.0.0.1"]}
    if ark is not None:
        values.update(ark_api_key=ARK_KEY, ark_base_url=ark.base_url)
    if visual is not None:
        values.update(volcengine_access_key=VOLC_AK, volcengine_secret_key=VOLC_SK, visual_base_url=visual.base_url)
    values.update(overrides)
    return values


async def recorded_studio(factory: StudioFactory, log: StatusLog, **settings: Any) -> Studio:
    studio: Studio = await factory(**settings)
    studio.client.event_hooks["response"].append(log.hook)
    return studio


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
async def shared_url(pg_cluster: Cluster) -> AsyncIterator[str]:
    """A fresh database on the throw-away PostgreSQL cluster, for studios that play replicas."""
    name = await pg_cluster.create_database()
    try:
        yield pg_cluster.url(name)
    finally:
        await pg_cluster.drop_database(name)
