"""Benchmark 4: image costs.

a) ImageStore.store_output per image (validate + embed metadata + WebP thumbnail + writes), in this
   process, for the fakes' photograph-like JPEG and PNG outputs at 1024², 2048² and 4096², with
   the thumbnail and the metadata embedding also timed alone (CPU per size and the levers:
   bench/store_cpu.py).
b) Requests/s for one stored image: nginx (/images/..., straight from disk) against the backend
   serving the same path (a second uvicorn on the same DATA_DIR with SERVE_IMAGES=true and no
   worker). Load: wrk (apt package) when installed, else an aiohttp loop (which then limits).
   Expectation: nginx >= 10x the backend.
c) Bytes of one gallery page through nginx: GET /api/v1/history?page_size=50 (as sent, gzip) + its
   50 thumbnails. Target <= 1.5 MB.
d) Behind APP_PASSWORD: nginx asks the API (auth_request to /api/v1/auth/check) before serving an
   image and caches the answer 5 s per session cookie; a Bearer password is never cached (asked
   every time). Requests/s of nginx with a session cookie, with the Bearer password, of the backend
   serving the image to the same session, and of the check alone on uvicorn (its cost).
   Expectation: nginx >= 10x the backend here too.
e) open_file_cache (dropped so a deleted image stops being served at once): nginx requests/s for
   the image with and without it.

Run: cd backend && ../.venv/bin/python ../bench/images.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from _common import UVICORN, Procs, free_port, header, install_signal_handlers, percentile, table, verdict, wait_healthy
from _stack import Stack, seed_gallery, start_stack

METADATA = {
    "task_id": "0" * 32, "index": 0, "model": "doubao-seedream-4-0-250828",
    "prompt": "水墨山水，远山含黛，小舟泛湖 — a misty ink-wash landscape, boat on a lake", "negative_prompt": None,
    "seed": 12345, "parameters": {"size": "2048x2048", "watermark": False}, "created_at": "2025-01-01T00:00:00+00:00",
}


def store_costs(reps: dict[int, int]) -> list[list[str]]:
    from app.storage import metadata as image_metadata
    from app.storage.files import ImageStore
    from app.storage.thumbnails import make_thumbnail
    from tests.fakes.photos import photo_bytes

    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="studio-bench-store-"))
    try:
        store = ImageStore(tmp / "output", tmp / "uploads", min_free_bytes=0)
        for side, n in reps.items():
            for fmt in ("JPEG", "PNG"):
                # The fakes' photograph-like outputs (tests/fakes/photos.py), as the upstream sends them.
                data = photo_bytes(side, side, fmt.lower())
                ctype = "image/jpeg" if fmt == "JPEG" else "image/png"
                full, thumb, embed = [], [], []
                thumb_bytes = 0
                for i in range(n):
                    t0 = time.perf_counter()
                    stored = store.store_output(f"bench{side}{fmt}{i:04d}", data, created=datetime.now(UTC), metadata=METADATA)
                    full.append((time.perf_counter() - t0) * 1000)
                    if stored.thumbnail_pending:  # a large PNG's: made after the job, untimed here
                        store.ensure_thumbnail(stored.rel_path, stored.thumb_rel_path)
                    thumb_bytes = (tmp / "output" / stored.thumb_rel_path).stat().st_size
                    t0 = time.perf_counter()
                    make_thumbnail(data)
                    thumb.append((time.perf_counter() - t0) * 1000)
                    t0 = time.perf_counter()
                    image_metadata.embed(data, ctype, METADATA)
                    embed.append((time.perf_counter() - t0) * 1000)
                rows.append([f"{side}² {fmt}", f"{len(data) / 1e6:.2f} MB", n, f"{percentile(full, 50):.0f}",
                             f"{percentile(thumb, 50):.0f}", f"{percentile(embed, 50):.1f}", f"{thumb_bytes / 1024:.0f} KB"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def load(url: str, seconds: float, connections: int, headers: dict[str, str] | None = None) -> tuple[float, str]:
    """Requests/s against ``url``; wrk when installed, else aiohttp."""
    wrk = shutil.which("wrk")
    if wrk:
        extra = [arg for key, value in (headers or {}).items() for arg in ("-H", f"{key}: {value}")]
        out = subprocess.run([wrk, "-t2", f"-c{connections}", f"-d{seconds:g}s", *extra, url], capture_output=True,
                             text=True, timeout=seconds + 30).stdout
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        return (float(m.group(1)) if m else float("nan")), ("wrk" + (f", {errors.group(1)} non-2xx" if errors else ""))

    async def go() -> float:
        count = 0
        deadline = time.perf_counter() + seconds
        async with aiohttp.ClientSession(headers=headers) as session:
            async def one() -> None:
                nonlocal count
                while time.perf_counter() < deadline:
                    async with session.get(url) as resp:
                        await resp.read()
                        count += resp.status == 200
            await asyncio.gather(*(one() for _ in range(connections)))
        return count / seconds

    return asyncio.run(go()), "aiohttp (client-bound)"


async def gallery_bytes(origin: str) -> dict:
    # auto_decompress off: count what travels, as a browser with gzip would receive it.
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        async with session.get(f"{origin}/api/v1/history", params={"page_size": 50},
                               headers={"Accept-Encoding": "gzip"}) as resp:
            wire_json = await resp.read()
            encoding = resp.headers.get("Content-Encoding", "identity")
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{origin}/api/v1/history", params={"page_size": 50}) as resp:
            page = await resp.json()
        thumbs = []
        for item in page["items"]:
            for out in item["outputs"]:
                if out.get("thumbnail_url"):
                    async with session.get(origin + out["thumbnail_url"]) as resp:
                        thumbs.append(len(await resp.read()))
        first_image = page["items"][0]["outputs"][0]["url"] if page["items"] else None
    raw_json = len(json.dumps(page, ensure_ascii=False).encode())
    return {"wire_json": len(wire_json), "encoding": encoding, "raw_json": raw_json, "thumbs": thumbs,
            "items": len(page["items"]), "first_image": first_image}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    install_signal_handlers()
    header("Images: store cost, nginx vs backend, gallery page weight")

    rows = store_costs({1024: 8, 2048: 4, 4096: 3})
    print(table(rows, ["input", "size", "n", "store_output p50 ms", "thumbnail alone ms", "embed alone ms", "thumb"]))
    print("  store_output = sniff + embed + verify/decode + thumbnail + sha256 + 2 x (tmp, fsync, rename, fsync dir)")

    with Procs() as procs:
        stack = start_stack(procs)
        seed_gallery(stack.origin, 50)
        g = asyncio.run(gallery_bytes(stack.origin))
        total = g["wire_json"] + sum(g["thumbs"])
        print()
        print(table([[g["items"], f"{g['wire_json'] / 1024:.1f} KB ({g['encoding']}; {g['raw_json'] / 1024:.1f} KB raw)",
                      len(g["thumbs"]), f"{sum(g['thumbs']) / 1024:.0f} KB (avg {sum(g['thumbs']) / max(1, len(g['thumbs'])) / 1024:.1f} KB)",
                      f"{total / 1024 / 1024:.2f} MB", verdict(total <= 1.5 * 1024 * 1024)]],
                    ["gallery items", "history JSON on the wire", "thumbs", "thumbnail bytes (1024² demo PNGs)", "page total", "<=1.5 MB"]))

        # The same image from the backend: a second uvicorn on the stack's data, images on, no worker.
        port = free_port()
        backend = procs.start("uvicorn-images", [str(UVICORN), "app.main:app", "--host", "127.0.0.1", "--port", str(port),
                                                 "--no-access-log", "--log-level", "warning"],
                              env={"DATA_DIR": str(stack.data_dir), "SERVE_IMAGES": "true", "RUN_WORKER": "false",
                                   "ARK_API_KEY": "", "DATABASE_URL": "", "OUTPUT_DIR": ""})
        wait_healthy(f"http://127.0.0.1:{port}/health", 60, backend)
        path = g["first_image"]
        size = len(asyncio.run(_get(stack.origin + path)))
        nginx_rps, tool = load(stack.origin + path, args.seconds, args.connections)
        backend_rps, _ = load(f"http://127.0.0.1:{port}{path}", args.seconds, args.connections)
        print()
        print(table([[f"{path.rsplit('/', 1)[-1][-14:]} ({size / 1024:.0f} KB)", f"{nginx_rps:.0f}", f"{backend_rps:.0f}",
                      f"{nginx_rps / backend_rps:.1f}x" if backend_rps else "n/a", verdict(nginx_rps >= 10 * backend_rps)]],
                    ["image", "nginx req/s", "backend req/s", "ratio", ">=10x"]))
        print(f"  load: {tool}, {args.connections} connections, {args.seconds:g} s each, same machine as the servers")

        image = lambda: load(stack.origin + path, args.seconds, args.connections)  # noqa: E731
        with_cache, _ = with_site_patch(stack, OPEN_FILE_CACHE, image)
        without_check, _ = with_site_patch(stack, NO_SESSION_CHECK, image)
        again, _ = image()  # the machine is shared: the site as it is, measured once more after the others
        now = max(nginx_rps, again)
        print()
        print(table([[f"{nginx_rps:.0f} / {again:.0f}", f"{with_cache:.0f} ({(with_cache / now - 1) * 100:+.0f} %)",
                      f"{without_check:.0f} ({(without_check / now - 1) * 100:+.0f} %)"]],
                    ["nginx req/s as shipped (before / after)", "+ open_file_cache max=1000 inactive=60s",
                     "- the session check (auth_request)"]))
        print("  no password: the check is asked, cached under the empty cookie; % against the better of the two runs")

        print()
        print(table(auth_figures(procs, args), ["behind APP_PASSWORD", "req/s", "vs backend", "note"]))


PASSWORD = "bench-password-7c1"


# Edits of the running nginx's site, to measure what a line costs: (old, new) text replacements.
OPEN_FILE_CACHE = [("        tcp_nopush on;\n", "        tcp_nopush on;\n        open_file_cache max=1000 inactive=60s;\n")]
NO_SESSION_CHECK = [
    ("        auth_request /_studio/session-check;\n", ""),
    ("        auth_request_set $studio_image_cache_control $upstream_http_x_image_cache_control;\n",
     '        set $studio_image_cache_control "public, max-age=31536000, immutable";\n'),
]


def with_site_patch(stack: Stack, edits: list[tuple[str, str]], measure: Callable[[], tuple[float, str]]) -> tuple[float, str]:
    """``measure()`` with ``edits`` made to the running nginx's site (reloaded, then put back)."""
    site = stack.run_dir / "nginx" / "conf.d" / "default.conf"
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    main_conf = str(stack.run_dir / "nginx" / "nginx.conf")
    original = site.read_text()
    patched = original
    for old, new in edits:
        if old not in patched:
            raise RuntimeError(f"bench: {old.strip()!r} is no longer in the site; update bench/images.py")
        patched = patched.replace(old, new, 1)
    site.write_text(patched)
    try:
        subprocess.run([nginx, "-c", main_conf, "-s", "reload"], check=True, capture_output=True)
        time.sleep(1.0)  # the new workers
        return measure()
    finally:
        site.write_text(original)
        subprocess.run([nginx, "-c", main_conf, "-s", "reload"], capture_output=True)
        time.sleep(1.0)


def auth_figures(procs: Procs, args: argparse.Namespace) -> list[list[str]]:
    stack = start_stack(procs, "guarded", APP_PASSWORD=PASSWORD)
    bearer = {"Authorization": f"Bearer {PASSWORD}"}
    request = urllib.request.Request(stack.origin + "/api/v1/auth/login", data=json.dumps({"password": PASSWORD}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as resp:
        cookie = {"Cookie": resp.headers["Set-Cookie"].split(";", 1)[0]}
    task = asyncio.run(_one_image(stack.origin, bearer))
    path = task["images"][0]
    port = free_port()
    backend = procs.start("uvicorn-images-guarded", [str(UVICORN), "app.main:app", "--host", "127.0.0.1", "--port", str(port),
                                                     "--no-access-log", "--log-level", "warning"],
                          env={"DATA_DIR": str(stack.data_dir), "SERVE_IMAGES": "true", "RUN_WORKER": "false",
                               "ARK_API_KEY": "", "DATABASE_URL": "", "OUTPUT_DIR": "", "APP_PASSWORD": PASSWORD})
    wait_healthy(f"http://127.0.0.1:{port}/health", 60, backend)
    figures = {
        "nginx, session cookie": load(stack.origin + path, args.seconds, args.connections, cookie),
        "nginx, Bearer password": load(stack.origin + path, args.seconds, args.connections, bearer),
        "backend, session cookie": load(f"http://127.0.0.1:{port}{path}", args.seconds, args.connections, cookie),
        "check alone (uvicorn), cookie": load(f"http://127.0.0.1:{stack.api_port}/api/v1/auth/check", args.seconds,
                                              args.connections, cookie),
        "check alone (uvicorn), Bearer": load(f"http://127.0.0.1:{stack.api_port}/api/v1/auth/check", args.seconds,
                                              args.connections, bearer),
    }
    base = figures["backend, session cookie"][0]
    notes = {
        "nginx, session cookie": "auth_request, answer cached 5 s per cookie",
        "nginx, Bearer password": "auth_request asked every time (never cached)",
        "backend, session cookie": "uvicorn FileResponse, SERVE_IMAGES=true",
        "check alone (uvicorn), cookie": "GET /api/v1/auth/check -> 204, session from the in-process cache",
        "check alone (uvicorn), Bearer": "the same, password compared (sha256)",
    }
    rows = []
    for name, (rps, tool) in figures.items():
        ratio = f"{rps / base:.1f}x" if base else "n/a"
        if name == "nginx, session cookie":
            ratio += f" {verdict(rps >= 10 * base)}"
        rows.append([name, f"{rps:.0f}", ratio, f"{notes[name]} ({tool})"])
    return rows


async def _one_image(origin: str, headers: dict[str, str]) -> dict:
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.post(f"{origin}/api/v1/generate/text2image",
                                json={"model": "demo", "prompt": "a guarded lighthouse", "size": "1024x1024"}) as resp:
            task_id = (await resp.json())["task_id"]
        for _ in range(600):
            async with session.get(f"{origin}/api/v1/tasks/{task_id}") as resp:
                task = await resp.json()
            if task["status"] in ("completed", "failed", "cancelled"):
                return task
            await asyncio.sleep(0.1)
    raise TimeoutError(task_id)


async def _get(url: str) -> bytes:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return await resp.read()


if __name__ == "__main__":
    main()
