"""Scale-out figures (issue 13): jobs/s with 1, 2 and 3 replicas on PostgreSQL, and the failover time.

The native stack of `make run REPLICAS=N DATABASE_URL=...` (nginx least_conn in front of N uvicorn
processes, each API + worker, MAX_CONCURRENT_JOBS=16 each) on a throw-away PostgreSQL cluster
(backend/tests/pg.py), a fresh database per run, against the fake Ark (one process) with 0 ms and
1000 ms latency. ``--jobs`` jobs (Seedream 4.0, the fake's flat 512 px JPEG) are submitted through
nginx with 32 requests in flight; jobs/s = jobs / (first submit -> all done, seen through nginx).

Failover: 3 replicas, 1 s latency, JOB_LEASE_SECONDS=4 (as e2e/test_replicas.py); uvicorn-2 is
SIGKILLed 1.5 s after the last submit. The jobs it held are those done with attempts >= 2;
failover time = kill -> the last of them completed on another replica (their lease must run out
first, so it is about the lease plus one upstream call).

STORAGE_BACKEND=s3 with --s3: the images go to a moto server (a test double) instead of the disk.

Run: cd backend && ../.venv/bin/python ../bench/replicas.py [--jobs 300] [--replicas 1,2,3] [--latencies 0,1000] [--s3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from typing import Any

import aiohttp
from _common import ROOT, Procs, bench_line, header, install_signal_handlers, load_test_module, table
from _jobs import PROMPTS, fetch_tasks, submit_many, wait_finished
from _stack import stack_env

ARK_MODEL = "doubao-seedream-4-0-250828"
ARK_KEY = "bench-key"
LEASE_SECONDS = 4


def free_ports(n: int) -> int:
    """The first of ``n`` consecutive free ports on 127.0.0.1 (one per replica)."""
    for _ in range(200):
        base = random.randint(20000, 60000 - n)
        try:
            socks = []
            for port in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no run of free ports")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Stack:
    def __init__(self, procs: Procs, name: str, replicas: int, **settings: str) -> None:
        self.run_dir = procs.tmp / f"run-{name}"
        self.port, self.api_port = free_port(), free_ports(replicas)
        self.origin = f"http://127.0.0.1:{self.port}"
        self.env = stack_env(self.port, self.api_port, self.run_dir, procs.tmp / f"data-{name}",
                             REPLICAS=str(replicas), MAX_CONCURRENT_JOBS="16", **settings)
        procs.cleanups.append(self.stop)
        started = subprocess.run([str(ROOT / "scripts" / "run-local.sh")], env=self.env, cwd=ROOT,
                                 capture_output=True, text=True, timeout=300)
        if started.returncode != 0:
            raise RuntimeError(f"run-local.sh failed:\n{started.stdout[-2000:]}\n{started.stderr[-2000:]}")

    def uvicorn_pid(self, index: int) -> int:
        out = subprocess.run([str(ROOT / ".venv" / "bin" / "supervisorctl"), "-c", str(self.run_dir / "supervisord.conf"),
                              "pid", f"uvicorn-{index}"], capture_output=True, text=True, timeout=30, check=False)
        return int(out.stdout.strip())

    def stop(self) -> None:
        subprocess.run([str(ROOT / "scripts" / "stop-local.sh"), "--quiet"], env=self.env, cwd=ROOT,
                       capture_output=True, timeout=120, check=False)


def body_for(i: int) -> dict[str, Any]:
    return {"model": ARK_MODEL, "prompt": f"{PROMPTS[i % 4]} #{i}"}


async def run_jobs(origin: str, jobs: int, kill: Any = None) -> dict[str, Any]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=40)) as session:
        warm = await submit_many(session, origin, body_for, 10, 8)
        await wait_finished(session, origin, warm.ids, 120, interval=0.2)
        begun = time.perf_counter()
        sub = await submit_many(session, origin, body_for, jobs, 32)
        killed_at = None
        if kill is not None:
            await asyncio.sleep(1.5)
            killed_at = time.time()
            kill()
        done_at, tasks = await wait_finished(session, origin, sub.ids, 600, interval=0.25)
        tasks = await fetch_tasks(session, origin, sub.ids)
    completed = [t for t in tasks if t.get("status") == "completed"]
    out: dict[str, Any] = {
        "submitted": len(sub.ids), "errors": len(sub.errors), "completed": len(completed),
        "seconds": done_at - begun, "jobs_per_s": len(completed) / (done_at - begun),
    }
    if killed_at is not None:
        retaken = [t for t in completed if int(t.get("attempts", 1)) >= 2]
        ends = [datetime.fromisoformat(t["completed_at"]).timestamp() for t in retaken]
        out["retaken"] = len(retaken)
        out["failover_s"] = (max(ends) - killed_at) if ends else float("nan")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--replicas", default="1,2,3")
    parser.add_argument("--latencies", default="0,1000")
    parser.add_argument("--s3", action="store_true", help="STORAGE_BACKEND=s3 against a moto server")
    args = parser.parse_args()
    install_signal_handlers()
    header(f"replicas on PostgreSQL: {args.jobs} jobs through nginx, fake Ark" + (", images on S3 (moto)" if args.s3 else ""))
    sys.path.insert(0, str(ROOT / "backend"))
    pg = load_test_module("pg")
    cluster = pg.Cluster()
    cluster.start()
    moto = None
    try:
        storage: dict[str, str] = {}
        if args.s3:
            moto = load_test_module("s3server").MotoServer()
            moto.start()
        with Procs() as procs:
            rows = []
            for latency in [int(x) for x in args.latencies.split(",")]:
                ark_url = procs.fake_ark(latency_ms=latency, api_key=ARK_KEY, name=f"fake-ark-{latency}")
                for replicas in [int(x) for x in args.replicas.split(",")]:
                    name = f"r{replicas}-l{latency}"
                    database = asyncio.run(cluster.create_database(template="template0"))
                    if moto is not None:
                        config = moto.config(addressing="path")
                        moto.create_bucket(config)
                        storage = moto.env(config)
                    stack = Stack(procs, name, replicas, DATABASE_URL=cluster.url(database), ARK_API_KEY=ARK_KEY,
                                  ARK_BASE_URL=ark_url, RESULT_URL_HOSTS="127.0.0.1", LOG_LEVEL="WARNING", **storage)
                    try:
                        figures = asyncio.run(run_jobs(stack.origin, args.jobs))
                    finally:
                        stack.stop()
                    rows.append([replicas, latency, figures["completed"], f"{figures['seconds']:.2f}",
                                 f"{figures['jobs_per_s']:.1f}"])
                    bench_line("13", f"jobs/s, {replicas} replica(s), PostgreSQL, fake Ark {latency} ms"
                               + (", S3" if args.s3 else ""), figures["jobs_per_s"], "jobs/s", "-")
            print(table(rows, ["replicas", "latency ms", "completed", "seconds", "jobs/s"]))

            ark_url = procs.fake_ark(latency_ms=1000, api_key=ARK_KEY, name="fake-ark-failover")
            database = asyncio.run(cluster.create_database(template="template0"))
            if moto is not None:
                config = moto.config(addressing="path")
                moto.create_bucket(config)
                storage = moto.env(config)
            stack = Stack(procs, "failover", 3, DATABASE_URL=cluster.url(database), ARK_API_KEY=ARK_KEY,
                          ARK_BASE_URL=ark_url, RESULT_URL_HOSTS="127.0.0.1", LOG_LEVEL="WARNING",
                          JOB_LEASE_SECONDS=str(LEASE_SECONDS), **storage)
            try:
                victim = stack.uvicorn_pid(2)
                figures = asyncio.run(run_jobs(stack.origin, args.jobs, kill=lambda: os.kill(victim, signal.SIGKILL)))
            finally:
                stack.stop()
            print(f"failover: {figures['completed']}/{figures['submitted']} completed, {figures['retaken']} jobs taken over "
                  f"from the killed replica, the last done {figures['failover_s']:.2f} s after the kill "
                  f"(lease {LEASE_SECONDS} s); all done in {figures['seconds']:.2f} s")
            bench_line("13", f"failover: SIGKILL -> last lost job done elsewhere (lease {LEASE_SECONDS} s, 1 s upstream)",
                       figures["failover_s"], "s", "-")
            bench_line("13", "failover: jobs lost", figures["submitted"] - figures["completed"], "jobs", "<= 0")
    finally:
        if moto is not None:
            moto.stop()
        cluster.stop()


if __name__ == "__main__":
    main()
