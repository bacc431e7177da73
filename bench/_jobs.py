"""Submitting jobs over HTTP and collecting their task JSON (shared by the job benchmarks)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from _common import parse_iso, percentile

PROMPTS = [
    "a lighthouse on a cliff at dusk, oil painting",
    "一只在雪地里奔跑的柴犬，电影感，逆光",
    "isometric city block, pastel colours, soft shadows",
    "水墨山水，远山含黛，小舟泛湖",
]


@dataclass
class Submitted:
    ids: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    first_sent: float = 0.0
    last_accepted: float = 0.0
    submit_latencies: list[float] = field(default_factory=list)


async def submit_many(
    session: aiohttp.ClientSession, origin: str, body_for: Any, n: int, concurrency: int
) -> Submitted:
    """POST ``n`` text2image jobs with ``concurrency`` requests in flight."""
    out = Submitted()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def one_worker() -> None:
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            t0 = time.perf_counter()
            try:
                async with session.post(f"{origin}/api/v1/generate/text2image", json=body_for(i)) as resp:
                    data = await resp.json()
                    if resp.status != 202:
                        out.errors.append(f"{resp.status} {data}")
                        continue
                    out.ids.append(data["task_id"])
            except (aiohttp.ClientError, TimeoutError) as exc:
                out.errors.append(repr(exc))
                continue
            finally:
                out.submit_latencies.append(time.perf_counter() - t0)
            out.last_accepted = time.perf_counter()

    out.first_sent = time.perf_counter()
    await asyncio.gather(*(one_worker() for _ in range(concurrency)))
    return out


async def wait_finished(session: aiohttp.ClientSession, origin: str, ids: list[str], timeout: float,
                        interval: float = 0.05) -> tuple[float, list[dict[str, Any]]]:
    """Poll until every id is terminal (or ``timeout``); returns (time seen done, task JSONs)."""
    pending = set(ids)
    deadline = time.perf_counter() + timeout
    done_at = float("nan")
    # Cheap polling: /api/v1/tasks lists active tasks first, so one item tells whether any is left.
    while time.perf_counter() < deadline:
        async with session.get(f"{origin}/api/v1/tasks", params={"limit": 1}) as resp:
            active = [t for t in (await resp.json())["items"] if t["status"] in ("pending", "processing")]
        if not active:
            done_at = time.perf_counter()
            break
        await asyncio.sleep(interval)
    tasks = await fetch_tasks(session, origin, list(pending))
    return done_at, tasks


async def fetch_tasks(session: aiohttp.ClientSession, origin: str, ids: list[str], concurrency: int = 16) -> list[dict[str, Any]]:
    sem = asyncio.Semaphore(concurrency)

    async def one(task_id: str) -> dict[str, Any]:
        async with sem, session.get(f"{origin}/api/v1/tasks/{task_id}") as resp:
            return await resp.json()

    return list(await asyncio.gather(*(one(i) for i in ids)))


def job_figures(tasks: list[dict[str, Any]], upstream_latency_s: float) -> dict[str, Any]:
    """Server-side times from the task JSON."""
    completed = [t for t in tasks if t.get("status") == "completed"]
    overhead_ms = []
    for t in completed:
        started, finished = parse_iso(t["started_at"]), parse_iso(t["completed_at"])
        if started is not None and finished is not None:
            overhead_ms.append((finished - started - upstream_latency_s) * 1000)
    created = [parse_iso(t["created_at"]) for t in completed]
    finished_all = [parse_iso(t["completed_at"]) for t in completed]
    span = (max(finished_all) - min(created)) if completed else float("nan")  # type: ignore[type-var]
    statuses: dict[str, int] = {}
    for t in tasks:
        statuses[t.get("status", "?")] = statuses.get(t.get("status", "?"), 0) + 1
    return {
        "completed": len(completed),
        "statuses": statuses,
        "server_span_s": span,
        "jobs_per_s_server": len(completed) / span if completed and span > 0 else float("nan"),
        "overhead_p50_ms": percentile(overhead_ms, 50),
        "overhead_p95_ms": percentile(overhead_ms, 95),
        "overhead_max_ms": max(overhead_ms) if overhead_ms else float("nan"),
    }
