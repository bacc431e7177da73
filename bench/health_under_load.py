"""Benchmark: /health latency while heavy history searches run.

20 000 completed tasks are bulk-inserted (as in ``history.py``), a uvicorn process serves them, and
``--searches`` prompt searches are sent at once (aiohttp, one connection each), ``--rounds`` times.
Meanwhile ``/health`` is asked one request after another (a new request as soon as the previous one
answered, plus a 50 ms pause), the way a container HEALTHCHECK or a load balancer would. Target:
every /health answer < 100 ms (the container HEALTHCHECK gives up after 4 s).

Run: cd backend && ../.venv/bin/python ../bench/health_under_load.py [--rows 20000] [--searches 200]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import aiohttp
from _common import Procs, cpu_seconds, header, install_signal_handlers, percentile, table, verdict
from history import SEARCH_EN, SEARCH_ZH, populate


async def _health_loop(session: aiohttp.ClientSession, origin: str, stop: asyncio.Event, out: list[float]) -> None:
    while not stop.is_set():
        t0 = time.perf_counter()
        async with session.get(f"{origin}/health", timeout=aiohttp.ClientTimeout(total=30)) as resp:
            await resp.read()
            if resp.status != 200:
                print(f"   /health answered {resp.status}")
        out.append((time.perf_counter() - t0) * 1000)
        try:
            await asyncio.wait_for(stop.wait(), 0.05)
        except TimeoutError:
            pass


async def _search(session: aiohttp.ClientSession, origin: str, q: str, out: list[float]) -> None:
    t0 = time.perf_counter()
    async with session.get(f"{origin}/api/v1/history", params={"q": q, "page_size": "20"}) as resp:
        await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"search answered {resp.status}")
    out.append((time.perf_counter() - t0) * 1000)


async def measure(origin: str, searches: int, rounds: int) -> tuple[list[float], list[float], list[float], float]:
    idle: list[float] = []
    health: list[float] = []
    search: list[float] = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session, aiohttp.ClientSession() as health_session:
        for _ in range(20):
            t0 = time.perf_counter()
            async with health_session.get(f"{origin}/health") as resp:
                await resp.read()
            idle.append((time.perf_counter() - t0) * 1000)
        stop = asyncio.Event()
        prober = asyncio.create_task(_health_loop(health_session, origin, stop, health))
        t0 = time.perf_counter()
        for _ in range(rounds):
            await asyncio.gather(
                *(_search(session, origin, SEARCH_EN if i % 2 else SEARCH_ZH, search) for i in range(searches))
            )
        wall = time.perf_counter() - t0
        stop.set()
        await prober
    return idle, health, search, wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    install_signal_handlers()
    header(f"/health under load: {args.searches} concurrent searches x {args.rounds} on {args.rows} tasks, SQLite")
    with Procs() as procs:
        data_dir = procs.tmp / "data"
        insert_s = asyncio.run(populate(data_dir, args.rows))
        print(f"   inserted {args.rows} tasks + images in {insert_s:.1f} s")
        proc, origin = procs.backend(data_dir=data_dir, name="uvicorn-health", env={"RUN_WORKER": "false"})
        cpu0 = cpu_seconds(proc.pid)
        idle, health, search, wall = asyncio.run(measure(origin, args.searches, args.rounds))
        cpu = cpu_seconds(proc.pid) - cpu0
    rows = [
        ["/health, idle", len(idle), f"{percentile(idle, 50):.1f}", f"{percentile(idle, 95):.1f}", f"{max(idle):.1f}", ""],
        ["/health, during searches", len(health), f"{percentile(health, 50):.1f}", f"{percentile(health, 95):.1f}",
         f"{max(health):.1f}", verdict(max(health) < 100)],
        ["search", len(search), f"{percentile(search, 50):.1f}", f"{percentile(search, 95):.1f}", f"{max(search):.1f}",
         ""],
    ]
    print(table(rows, ["request", "n", "p50 ms", "p95 ms", "max ms", "health < 100 ms"]))
    print(f"   {len(search)} searches in {wall:.1f} s ({len(search) / wall:.0f}/s); backend CPU {cpu:.1f} s "
          f"({cpu / wall:.0%} of one core, {cpu * 1000 / len(search):.1f} ms per search)")


if __name__ == "__main__":
    main()
