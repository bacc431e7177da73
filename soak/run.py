#!/usr/bin/env python3
"""Soak test: many concurrent clients against the real stack for minutes (``make soak``; not in CI).

Starts the fake Ark and Visual APIs as processes, then the native stack (nginx + supervisor +
uvicorn, ``make run`` on a free port and a temp DATA_DIR, pointed at the fakes through the
environment; SOAK_DIRECT=1 starts uvicorn alone instead). SOAK_CLIENTS clients (default 100) each
loop: submit a job (Ark, Visual async or demo; SOAK_FAULT_RATE of them, default 1 %, carry an
injected upstream fault), follow it by holding its SSE stream or by polling, check the outcome,
and now and then read history, the queue, an image and /health. Every API call is timed.

Reported: calls and errors (an error is "explained" when it is the outcome the injected fault
must produce; everything else is unexplained, target 0), p50/p95/p99 latency of API calls, RSS of
the uvicorn process sampled every few seconds (growth after warm-up, target < 10 %) and its open
file descriptors (/proc/<pid>/fd, should stay flat). Exit status 1 when a target is missed.

Settings (environment): SOAK_SECONDS (600), SOAK_CLIENTS (100), SOAK_FAULT_RATE (0.01),
SOAK_ARK_LATENCY_MS (400), SOAK_PORT (free), SOAK_KEEP=1 keeps the stack and data afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
BACKEND = ROOT / "backend"
PY = sys.executable

SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
CLIENTS = int(os.environ.get("SOAK_CLIENTS", "100"))
FAULT_RATE = float(os.environ.get("SOAK_FAULT_RATE", "0.01"))
ARK_LATENCY_MS = float(os.environ.get("SOAK_ARK_LATENCY_MS", "400"))
DIRECT = os.environ.get("SOAK_DIRECT") == "1"
KEEP = os.environ.get("SOAK_KEEP") == "1"
JOB_DEADLINE = 180.0
SAMPLE_EVERY = 5.0

ARK_KEY = "soak-ark-key-0c1d2e3f"
VOLC_AK = "AKLTsoakAccessKey01"
VOLC_SK = "soak-secret-key-9a8b7c"

# marker -> (provider, expected final status, expected error code)
FAULTS: dict[str, tuple[str, str, str | None]] = {
    "[fault:500:times=1]": ("ark", "completed", None),
    "[fault:429:times=1]": ("ark", "completed", None),
    "[fault:truncated:times=1]": ("ark", "completed", None),
    "[fault:moderation-input]": ("ark", "failed", "content_moderation"),
    "[fault:url-403]": ("ark", "failed", "upstream_error"),
    "[fault:garbage]": ("ark", "failed", "upstream_error"),
    "[fault:50430:times=1]": ("visual", "completed", None),
    "[fault:expired]": ("visual", "failed", "upstream_error"),
    "[fault:moderation-output]": ("visual", "failed", "content_moderation"),
}
BODIES = {
    "ark": {"model": "doubao-seedream-4-0-250828", "size": "2K"},
    "visual": {"model": "jimeng_t2i_v30", "width": 1024, "height": 1024},
    "demo": {"model": "demo", "width": 512, "height": 512},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {})
    calls: int = 0
    jobs: Counter[str] = field(default_factory=Counter)
    explained: Counter[str] = field(default_factory=Counter)
    unexplained: list[str] = field(default_factory=list)
    samples: list[dict[str, float]] = field(default_factory=list)

    def timed(self, kind: str, seconds: float) -> None:
        self.calls += 1
        self.latencies.setdefault(kind, []).append(seconds)

    def error(self, what: str) -> None:
        if len(self.unexplained) < 10_000:
            self.unexplained.append(what)


# --------------------------------------------------------------------------------------------
# processes


class Proc:
    def __init__(self, args: list[str], *, env: dict[str, str] | None = None, cwd: Path = BACKEND, ready: bool = True,
                 log: Path | None = None) -> None:
        out = subprocess.PIPE if ready else (log.open("ab") if log else subprocess.DEVNULL)
        self.proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT if log else None,
                                     text=ready)
        self.line = ""
        if ready:
            assert self.proc.stdout is not None
            self.line = self.proc.stdout.readline().strip()
            if not self.line.startswith("READY "):
                raise SystemExit(f"{args[2]} did not start: {self.line!r}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def backend_env(ark: str, visual: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ARK_", "VOLCENGINE_", "VISUAL_", "DATABASE_URL", "APP_PASSWORD", "STUDIO_ENV"))}
    env.update(
        DATA_DIR=str(data_dir), STUDIO_ENV_FILE="", LOG_LEVEL="WARNING",
        ARK_API_KEY=ARK_KEY, ARK_BASE_URL=ark, VOLCENGINE_ACCESS_KEY=VOLC_AK, VOLCENGINE_SECRET_KEY=VOLC_SK,
        VISUAL_BASE_URL=visual, RESULT_URL_HOSTS="127.0.0.1",
        # All clients come from one address through nginx: the per-client limit would throttle the
        # soak itself, which is not what it measures.
        GENERATION_RATE_LIMIT_PER_MINUTE="0",
        MAX_CONCURRENT_JOBS="32", VISUAL_MAX_CONCURRENCY="8", VISUAL_POLL_INTERVAL="0.5",
        UPSTREAM_READ_TIMEOUT="20", MIN_FREE_DISK_MB="50",
    )
    return env


def find_uvicorn(api_port: int) -> int:
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"uvicorn" in part for part in cmd) and str(api_port).encode() in cmd:
            return int(pid)
    raise SystemExit(f"no uvicorn process on port {api_port}")


def sample(pid: int) -> dict[str, float]:
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = float(line.split()[1]) / 1024
    return {"t": time.monotonic(), "rss_mb": rss, "fds": float(len(os.listdir(f"/proc/{pid}/fd")))}


# --------------------------------------------------------------------------------------------
# clients


async def call(session: aiohttp.ClientSession, res: Results, kind: str, method: str, url: str, **kw: Any) -> tuple[int, Any]:
    started = time.monotonic()
    async with session.request(method, url, **kw) as response:
        raw = await response.read()
        res.timed(kind, time.monotonic() - started)
        if response.content_type == "application/json":
            return response.status, json.loads(raw)
        return response.status, raw


async def follow_sse(session: aiohttp.ClientSession, res: Results, base: str, task_id: str) -> None:
    started = time.monotonic()
    async with session.get(f"{base}/api/v1/tasks/{task_id}/events", timeout=aiohttp.ClientTimeout(total=JOB_DEADLINE)) as r:
        res.timed("sse_headers", time.monotonic() - started)
        if r.status != 200:
            res.error(f"SSE HTTP {r.status}")
            return
        async for line in r.content:
            if line.startswith(b"event: end"):
                return


async def client(idx: int, base: str, res: Results, stop_at: float) -> None:
    rng = random.Random(idx)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        n = 0
        while time.monotonic() < stop_at:
            n += 1
            provider = rng.choices(("ark", "visual", "demo"), (60, 25, 15))[0]
            marker = ""
            if rng.random() < FAULT_RATE:
                marker = rng.choice([m for m, (p, _, _) in FAULTS.items() if p == provider] or [""])
                if marker:
                    provider = FAULTS[marker][0]
            body = BODIES[provider] | {"prompt": f"soak c{idx} n{n} {marker}".strip()}
            try:
                status, created = await call(session, res, "submit", "POST", f"{base}/api/v1/generate/text2image", json=body)
                if status != 202:
                    res.error(f"submit HTTP {status}: {str(created)[:120]}")
                    await asyncio.sleep(1)
                    continue
                task_id = created["task_id"]
                deadline = time.monotonic() + JOB_DEADLINE
                if rng.random() < 0.5:
                    await follow_sse(session, res, base, task_id)
                task: dict[str, Any] = {}
                while time.monotonic() < deadline:
                    status, task = await call(session, res, "task", "GET", f"{base}/api/v1/tasks/{task_id}")
                    if status != 200:
                        res.error(f"task HTTP {status}")
                        break
                    if task["status"] in ("completed", "failed", "cancelled"):
                        break
                    await asyncio.sleep(rng.uniform(0.5, 1.0))
                outcome = task.get("status", "?")
                code = (task.get("error") or {}).get("code")
                res.jobs[f"{provider}:{outcome}" + (f":{code}" if code else "")] += 1
                expected = FAULTS.get(marker, (provider, "completed", None))
                if (outcome, code) == expected[1:]:
                    if marker:
                        res.explained[f"{marker} -> {outcome}{':' + code if code else ''}"] += 1
                elif outcome not in ("completed", "failed"):
                    res.error(f"job {task_id} did not finish within {JOB_DEADLINE:.0f} s ({outcome})")
                else:
                    res.error(f"job {task_id} {provider} {marker or '(no fault)'}: {outcome} {code} "
                              f"{(task.get('error') or {}).get('message', '')[:120]}")
                if outcome == "completed" and rng.random() < 0.3:
                    status, _ = await call(session, res, "image", "GET", f"{base}{task['outputs'][0]['url']}")
                    if status != 200:
                        res.error(f"image HTTP {status}")
                if rng.random() < 0.2:
                    for kind, path in (("history", "/api/v1/history?page=1&page_size=20"), ("queue", "/api/v1/tasks"),
                                       ("health", "/health")):
                        status, _ = await call(session, res, kind, "GET", f"{base}{path}")
                        if status != 200:
                            res.error(f"{kind} HTTP {status}")
            except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
                res.error(f"client exception {type(exc).__name__}: {exc}"[:200])
                await asyncio.sleep(1)


async def sampler(pid: int, res: Results, stop: asyncio.Event) -> None:
    while not stop.is_set():
        res.samples.append(sample(pid))
        try:
            await asyncio.wait_for(stop.wait(), SAMPLE_EVERY)
        except TimeoutError:
            pass
    res.samples.append(sample(pid))


async def drive(base: str, pid: int) -> Results:
    res = Results()
    stop = asyncio.Event()
    sampling = asyncio.create_task(sampler(pid, res, stop))
    stop_at = time.monotonic() + SECONDS
    progress = asyncio.create_task(report_progress(res, stop_at))
    await asyncio.gather(*(client(i, base, res, stop_at) for i in range(CLIENTS)))
    progress.cancel()
    stop.set()
    await sampling
    return res


async def report_progress(res: Results, stop_at: float) -> None:
    while True:
        await asyncio.sleep(30)
        left = max(stop_at - time.monotonic(), 0)
        last = res.samples[-1] if res.samples else {}
        print(f"  ... {res.calls} calls, {sum(res.jobs.values())} jobs, {len(res.unexplained)} unexplained errors, "
              f"rss {last.get('rss_mb', 0):.0f} MB, fds {last.get('fds', 0):.0f}, {left:.0f} s left", flush=True)


# --------------------------------------------------------------------------------------------
# report


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summarise(res: Results, started: float) -> tuple[dict[str, Any], bool]:
    all_calls = [v for k, vs in res.latencies.items() for v in vs]
    warm = started + max(30.0, SECONDS * 0.2)
    after = [s for s in res.samples if s["t"] >= warm] or res.samples
    base_rss = after[0]["rss_mb"]
    end_rss = after[-1]["rss_mb"]
    growth = (end_rss - base_rss) / base_rss * 100 if base_rss else 0.0
    fds = [s["fds"] for s in after]
    report = {
        "seconds": SECONDS,
        "clients": CLIENTS,
        "fault_rate": FAULT_RATE,
        "api_calls": res.calls,
        "jobs": dict(sorted(res.jobs.items())),
        "explained_errors": dict(res.explained),
        "unexplained_errors": len(res.unexplained),
        "unexplained_examples": sorted(Counter(e[:100] for e in res.unexplained).items(), key=lambda x: -x[1])[:10],
        "latency_ms": {
            "all": {"p50": pct(all_calls, 0.5) * 1000, "p95": pct(all_calls, 0.95) * 1000, "p99": pct(all_calls, 0.99) * 1000},
            **{k: {"n": len(v), "p50": pct(v, 0.5) * 1000, "p95": pct(v, 0.95) * 1000} for k, v in sorted(res.latencies.items())},
        },
        "rss_mb": {"first": res.samples[0]["rss_mb"], "after_warmup": base_rss, "end": end_rss,
                   "max": max(s["rss_mb"] for s in res.samples), "growth_after_warmup_pct": round(growth, 1)},
        "fds": {"after_warmup": fds[0], "end": fds[-1], "min": min(fds), "max": max(fds)},
    }
    ok = not res.unexplained and growth < 10.0 and fds[-1] <= fds[0] + 20
    return report, ok


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="studio-soak-"))
    data_dir, run_dir = work / "data", work / "run"
    port, api_port = int(os.environ.get("SOAK_PORT") or free_port()), free_port()
    print(f"soak: {CLIENTS} clients for {SECONDS:.0f} s, {FAULT_RATE:.1%} injected faults, work dir {work}", flush=True)
    ark = Proc([PY, "-m", "tests.fakes.ark", "--port", "0", "--api-key", ARK_KEY, "--latency-ms", str(ARK_LATENCY_MS),
                "--timeout-seconds", "30"])
    visual = Proc([PY, "-m", "tests.fakes.visual", "--port", "0", "--access-key", VOLC_AK, "--secret-key", VOLC_SK,
                   "--latency-ms", "100", "--pending-polls", "1", "--timeout-seconds", "30"])
    env = backend_env(ark.line.split()[1], visual.line.split()[1], data_dir)
    uvicorn: Proc | None = None
    nginx_mode = not DIRECT and shutil.which("nginx") is not None
    try:
        if nginx_mode:
            env.update(PORT=str(port), API_PORT=str(api_port), RUN_DIR=str(run_dir), HEALTH_TIMEOUT="180")
            subprocess.run(["make", "-C", str(ROOT), "run", f"PORT={port}", f"DATA_DIR={data_dir}", f"RUN_DIR={run_dir}"],
                           env=env, check=True)
            base = f"http://127.0.0.1:{port}"
        else:
            print("soak: nginx not used (SOAK_DIRECT=1 or nginx missing): uvicorn alone", flush=True)
            data_dir.mkdir(parents=True)
            uvicorn = Proc([PY, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(api_port),
                            "--no-access-log"], env=env, ready=False, log=work / "uvicorn.log")
            base = f"http://127.0.0.1:{api_port}"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    import urllib.request

                    with urllib.request.urlopen(f"{base}/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    time.sleep(0.3)
        pid = find_uvicorn(api_port)
        started = time.monotonic()
        res = asyncio.run(drive(base, pid))
        report, ok = summarise(res, started)
        report["mode"] = "nginx + supervisor (make run)" if nginx_mode else "uvicorn alone"
        (work / "soak-report.json").write_text(json.dumps(report, indent=2))
        print(json.dumps(report, indent=2))
        lat = report["latency_ms"]["all"]
        print(f"\nsoak {'PASSED' if ok else 'FAILED'}: {res.calls} API calls, {sum(res.jobs.values())} jobs, "
              f"{len(res.unexplained)} unexplained errors, p95 {lat['p95']:.0f} ms, "
              f"RSS growth after warm-up {report['rss_mb']['growth_after_warmup_pct']} %, "
              f"fds {report['fds']['after_warmup']:.0f} -> {report['fds']['end']:.0f}; report: {work / 'soak-report.json'}")
        return 0 if ok else 1
    finally:
        if not KEEP:
            if nginx_mode:
                subprocess.run(["make", "-C", str(ROOT), "stop", f"RUN_DIR={run_dir}"], env=env, check=False)
            if uvicorn is not None:
                uvicorn.stop()
        ark.stop()
        visual.stop()
        if not KEEP:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
