"""Benchmark: adaptive upstream concurrency against an account with a hidden limit (issue 12, item 4).

A fake Ark answers HTTP 429 (RateLimitExceeded) to any call beyond ``--hidden`` in flight, as an
account's concurrency limit does, after ``--latency-ms`` per admitted call. The studio (uvicorn,
worker in-process, SQLite) starts at ARK_INITIAL_CONCURRENCY=``--initial`` and must find the limit
by itself. A feeder keeps a backlog of single-image jobs queued for ``--seconds``; every
``SAMPLE_S`` the fake's admitted calls in flight, its call and 429 counters and the studio's
/api/v1/limits are sampled.

Figures: seconds until converged (the first moment from which the next 5 s average >= 90 % of the
hidden limit in flight), then from there to the end: calls in flight as a share of the hidden limit
(target >= 90 %), throttled calls as a share of all calls (target < 2 %), jobs completed per second
against the ideal (hidden / latency). Prints `BENCH|12.4|<name>|<value>|<unit>|<target>` lines.

Run: cd backend && ../.venv/bin/python ../bench/adaptive.py [--hidden 20 --latency-ms 500 --seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import aiohttp
from _common import PY, Procs, header, install_signal_handlers, table, verdict
from _jobs import PROMPTS

MODEL = "doubao-seedream-4-0-250828"
SAMPLE_S = 0.2
WINDOW_S = 5.0
KEY = "bench-key"


def start_fake(procs: Procs, hidden: int, latency_ms: float) -> str:
    proc = procs.start(
        "fake-ark-limited",
        [str(PY), "-m", "tests.fakes.ark", "--port", "0", "--api-key", KEY, "--latency-ms", str(latency_ms),
         "--concurrency-limit", str(hidden), "--max-image-side", "64"],
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for line in proc.log_path.read_text(errors="replace").splitlines():
            if line.startswith("READY "):
                return line.split(" ", 1)[1].strip()
        time.sleep(0.05)
    raise RuntimeError(f"fake Ark did not start:\n{proc.tail()}")


async def run(origin: str, fake_origin: str, hidden: int, latency_s: float, seconds: float) -> dict[str, Any]:
    samples: list[tuple[float, int, int, int, float]] = []  # t, admitted in flight, calls, 429s, limit
    submitted = 0
    errors: list[str] = []
    async with aiohttp.ClientSession() as session:

        async def stats() -> dict[str, Any]:
            async with session.get(f"{fake_origin}/_fake/stats", params={"bodies": "0"}) as resp:
                data: dict[str, Any] = await resp.json()
                return data

        async def submit(n: int) -> None:
            nonlocal submitted

            async def one(i: int) -> None:
                body = {"model": MODEL, "prompt": f"{PROMPTS[i % len(PROMPTS)]} #{i}", "size": "1024x1024"}
                async with session.post(f"{origin}/api/v1/generate/text2image", json=body) as resp:
                    if resp.status != 202:
                        errors.append(f"{resp.status} {(await resp.text())[:200]}")

            await asyncio.gather(*(one(submitted + i) for i in range(n)))
            submitted += n

        t0 = time.monotonic()
        while (now := time.monotonic() - t0) < seconds:
            data = await stats()
            calls = int(data["actions"].get("images.generations", 0))
            throttled = int(data["throttled"])
            # A backlog of about three seconds of the hidden limit's work, never the queue running dry.
            backlog = submitted - (calls - throttled)
            want = int(hidden * 3 / latency_s) + 50
            if backlog < want:
                await submit(min(want - backlog, 200))
            async with session.get(f"{origin}/api/v1/limits") as resp:
                models = (await resp.json())["models"]
            limit = models[0]["limit"] if models else float("nan")
            samples.append((now, int(data["admitted_in_flight"]), calls, throttled, limit))
            await asyncio.sleep(SAMPLE_S)
        async with session.get(f"{origin}/api/v1/limits") as resp:
            final = (await resp.json())["models"]
    return {"samples": samples, "errors": errors, "submitted": submitted, "final": final}


def figures(samples: list[tuple[float, int, int, int, float]], hidden: int, latency_s: float) -> dict[str, float]:
    def window_mean(i: int) -> float:
        t = samples[i][0]
        values = [s[1] for s in samples[i:] if s[0] < t + WINDOW_S]
        return sum(values) / len(values)

    end = samples[-1][0]
    converged_at = next(
        (i for i in range(len(samples)) if samples[i][0] + WINDOW_S <= end and window_mean(i) >= 0.9 * hidden),
        None,
    )
    if converged_at is None:
        return {"converged_s": float("nan"), "utilisation": float("nan"), "throttled_share": float("nan"),
                "jobs_per_s": float("nan"), "ideal_per_s": hidden / latency_s, "limit_mean": float("nan")}
    after = samples[converged_at:]
    in_flight = sum(s[1] for s in after) / len(after)
    calls = after[-1][2] - after[0][2]
    throttled = after[-1][3] - after[0][3]
    span = after[-1][0] - after[0][0]
    limits = [s[4] for s in after if s[4] == s[4]]
    return {
        "converged_s": samples[converged_at][0],
        "utilisation": in_flight / hidden,
        "throttled_share": throttled / calls if calls else float("nan"),
        "jobs_per_s": (calls - throttled) / span if span > 0 else float("nan"),
        "ideal_per_s": hidden / latency_s,
        "limit_mean": sum(limits) / len(limits) if limits else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hidden", type=int, default=20, help="the fake account's concurrency limit")
    parser.add_argument("--latency-ms", type=float, default=500.0)
    parser.add_argument("--initial", type=int, default=2, help="ARK_INITIAL_CONCURRENCY")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    install_signal_handlers()
    latency_s = args.latency_ms / 1000
    header(f"Adaptive concurrency: hidden limit {args.hidden}, {args.latency_ms:.0f} ms per call, "
           f"start at {args.initial}, {args.seconds:.0f} s")
    with Procs() as procs:
        fake = start_fake(procs, args.hidden, args.latency_ms)
        fake_origin = fake.rsplit("/api/v3", 1)[0]
        _, origin = procs.backend(
            name="uvicorn-adaptive",
            env={"ARK_API_KEY": KEY, "ARK_BASE_URL": fake, "RESULT_URL_HOSTS": "127.0.0.1",
                 "ARK_INITIAL_CONCURRENCY": str(args.initial), "MAX_CONCURRENT_JOBS": str(args.hidden * 10),
                 "UPSTREAM_MAX_ATTEMPTS": "10"},
        )
        result = asyncio.run(run(origin, fake_origin, args.hidden, latency_s, args.seconds))
    f = figures(result["samples"], args.hidden, latency_s)
    rows = [
        ["converged (5 s mean >= 90 % of the limit)", f"{f['converged_s']:.1f} s", "<= 30 s",
         verdict(f["converged_s"] <= 30)],
        ["calls in flight after, share of the limit", f"{f['utilisation'] * 100:.1f} %", ">= 90 %",
         verdict(f["utilisation"] >= 0.9)],
        ["throttled calls after, share of all calls", f"{f['throttled_share'] * 100:.2f} %", "< 2 %",
         verdict(f["throttled_share"] < 0.02)],
        ["calls answered per second after", f"{f['jobs_per_s']:.1f}", f"ideal {f['ideal_per_s']:.1f}", ""],
        ["mean adaptive limit after", f"{f['limit_mean']:.1f}", f"hidden {args.hidden}", ""],
    ]
    print(table(rows, ["figure", "value", "target", ""]))
    print(f"  jobs submitted {result['submitted']}, submit errors {len(result['errors'])}"
          + (f" (first: {result['errors'][0]})" if result["errors"] else ""))
    if result["final"]:
        m = result["final"][0]
        print(f"  learned: limit {m['limit']}, ceiling {m['ceiling']}, {m['throttles']} throttled of "
              f"{m['successes'] + m['throttles']} calls, {m['decreases']} decreases")
    print(f"BENCH|12.4|adaptive converged|{f['converged_s']:.1f}|s|<=30")
    print(f"BENCH|12.4|adaptive in flight share of hidden limit|{f['utilisation'] * 100:.1f}|%|>=90")
    print(f"BENCH|12.4|adaptive throttled share|{f['throttled_share'] * 100:.2f}|%|<2")


if __name__ == "__main__":
    main()
