"""Benchmark: backend memory while large reference images are uploaded at once.

``--uploads`` distinct PNGs of ~13.4 MB each (2112×2112 RGB noise, which does not compress) are
sent at the same time to ``POST /api/v1/uploads`` of a uvicorn process started with
MAX_UPLOAD_MB=20; its RSS is sampled every 20 ms (and VmHWM read at the end). Then the same through
``POST /api/v1/generate/image2image`` as multipart (one image per request). Target: peak RSS
<= 200 MB for 10 concurrent uploads.

Run: cd backend && ../.venv/bin/python ../bench/uploads_memory.py [--uploads 10]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import time

import aiohttp
from _common import Procs, RssSampler, header, install_signal_handlers, proc_status_kb, table, verdict
from PIL import Image

SIDE = 2112  # 2112² × 3 bytes of noise ≈ 13.4 MB as PNG


def noise_png() -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (SIDE, SIDE), os.urandom(SIDE * SIDE * 3)).save(out, "PNG", compress_level=1)
    return out.getvalue()


async def send(origin: str, path: str, images: list[bytes]) -> tuple[float, list[int]]:
    async def one(session: aiohttp.ClientSession, data: bytes, i: int) -> int:
        form = aiohttp.FormData()
        if path.endswith("image2image"):
            form.add_field("prompt", "edit")
            form.add_field("model", "demo")
            form.add_field("images", data, filename=f"{i}.png", content_type="image/png")
        else:
            form.add_field("file", data, filename=f"{i}.png", content_type="image/png")
        async with session.post(origin + path, data=form) as resp:
            await resp.read()
            return resp.status

    t0 = time.perf_counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
        statuses = await asyncio.gather(*(one(session, data, i) for i, data in enumerate(images)))
    return time.perf_counter() - t0, list(statuses)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uploads", type=int, default=10)
    args = parser.parse_args()
    install_signal_handlers()
    header(f"Upload memory: {args.uploads} concurrent ~13.4 MB PNG uploads, MAX_UPLOAD_MB=20")
    images = [noise_png() for _ in range(args.uploads * 2)]
    size = len(images[0])
    print(f"   image size {size / 1e6:.1f} MB = {size / 1024 / 1024:.1f} MiB ({SIDE}×{SIDE} RGB noise PNG)")
    rows = []
    with Procs() as procs:
        for name, path, batch in (
            ("POST /api/v1/uploads", "/api/v1/uploads", images[: args.uploads]),
            ("POST /api/v1/generate/image2image (multipart)", "/api/v1/generate/image2image", images[args.uploads :]),
        ):
            proc, origin = procs.backend(
                name="uvicorn-" + path.rsplit("/", 1)[-1],
                env={"MAX_UPLOAD_MB": "20", "RUN_WORKER": "false", "GENERATION_RATE_LIMIT_PER_MINUTE": "0"},
            )
            idle = (proc_status_kb(proc.pid, "VmRSS") or 0) / 1024
            with RssSampler(proc.pid, interval=0.02) as sampler:
                seconds, statuses = asyncio.run(send(origin, path, batch))
            ok = sum(1 for s in statuses if s in (200, 202))
            rows.append([name, f"{ok}/{len(batch)}", f"{seconds:.1f}", f"{idle:.0f}", f"{sampler.peak_mb:.0f}",
                         verdict(sampler.peak_mb <= 200)])
            proc.stop()
    print(table(rows, ["request", "accepted", "seconds", "idle RSS MB", "peak RSS MB", "peak <= 200 MB"]))


if __name__ == "__main__":
    main()
