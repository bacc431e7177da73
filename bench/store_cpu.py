"""Benchmark: CPU of storing one generated image, per size and format (issue 12, items 1-2).

Inputs are the fakes' photograph-like images (tests/fakes/photos.py: 512 px to 4096 px, JPEG q90
and PNG, cached on disk after the first run). For each: ``ImageStore.store_output`` (validate,
embed metadata, thumbnail, writes) timed as CPU of this process (``time.process_time``: the same
code the image worker processes run), then the thumbnail left for later when there is one
(``ensure_thumbnail``, a large PNG's). Then the levers one at a time, and libvips (pyvips) against
Pillow for decode + thumbnail + encode when pyvips is installed in .venv.

The whole job's CPU (HTTP, database, download and this) is bench/jobs_throughput.py's.

Run: cd backend && ../.venv/bin/python ../bench/store_cpu.py [--reps 1]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import bench_line, header, install_signal_handlers, percentile, table

METADATA = {
    "task_id": "0" * 32, "index": 0, "model": "doubao-seedream-4-0-250828",
    "prompt": "水墨山水，远山含黛，小舟泛湖 — a misty ink-wash landscape, boat on a lake", "negative_prompt": None,
    "seed": 12345, "parameters": {"size": "2K", "watermark": False}, "created_at": "2025-01-01T00:00:00+00:00",
}
# (side, format, repetitions at --reps 1)
CASES = [(512, "png", 15), (512, "jpeg", 15), (1024, "jpeg", 10), (1024, "png", 8), (2048, "jpeg", 8),
         (2048, "png", 4), (4096, "jpeg", 4), (4096, "png", 3)]
TARGETS = {(512, "png"): 10, (512, "jpeg"): 10, (2048, "jpeg"): 25, (4096, "png"): 150}


def cpu_ms(fn: Callable[[], Any], n: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(n):
        t0 = time.process_time()
        result = fn()
        times.append((time.process_time() - t0) * 1000)
    return percentile(times, 50), result


def store_costs(reps: int) -> list[list[str]]:
    from app.storage.files import ImageStore
    from tests.fakes.photos import photo_bytes

    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="studio-bench-store-"))
    try:
        store = ImageStore(tmp / "output", tmp / "uploads", min_free_bytes=0)
        for side, fmt, n in CASES:
            data = photo_bytes(side, side, fmt)
            counter = iter(range(10**6))
            store_times, later_times, pending = [], [], False
            for _ in range(max(1, n * reps)):
                image_id = f"bench{side}{fmt}{next(counter):06d}"
                t0 = time.process_time()
                stored = store.store_output(image_id, data, created=datetime.now(UTC), metadata=METADATA)
                store_times.append((time.process_time() - t0) * 1000)
                if stored.thumbnail_pending:
                    pending = True
                    t0 = time.process_time()
                    store.ensure_thumbnail(stored.rel_path, stored.thumb_rel_path)
                    later_times.append((time.process_time() - t0) * 1000)
            thumb = (tmp / "output" / stored.thumb_rel_path).stat().st_size
            p50 = percentile(store_times, 50)
            target = TARGETS.get((side, fmt))
            rows.append([f"{side}² {fmt.upper()}", f"{len(data) / 1e6:.2f} MB", len(store_times), f"{p50:.1f}",
                         f"{percentile(later_times, 50):.0f} (after the job)" if pending else "(in the job)",
                         f"{thumb / 1024:.0f} KB", f"<= {target}" if target else "-"])
            bench_line("12.2", f"store_output CPU {side}px {fmt.upper()} (job path)", p50, "ms",
                       f"<= {target}" if target else "-")
            if pending:
                bench_line("12.2", f"thumbnail after the job {side}px {fmt.upper()} (not on the job path)",
                           percentile(later_times, 50), "ms", "-")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def levers() -> list[list[str]]:
    """Each lever alone, on the inputs it matters for."""
    from PIL import Image

    from app.storage import files
    from tests.fakes.photos import photo_bytes

    rows = []
    png4k, jpeg2k = photo_bytes(4096, 4096, "png"), photo_bytes(2048, 2048, "jpeg")

    def verify() -> None:
        with Image.open(io.BytesIO(png4k)) as im:
            im.verify()

    rows.append(["PNG chunk check, 4K PNG", "Image.verify()", f"{cpu_ms(verify, 3)[0]:.1f}",
                 "check_png_chunks()", f"{cpu_ms(lambda: files.check_png_chunks(png4k), 3)[0]:.1f}"])

    def decode_full() -> None:
        with Image.open(io.BytesIO(png4k)) as im:
            im.load()

    rows.append(["4K PNG on the job path", "full decode (thumbnail)", f"{cpu_ms(decode_full, 3)[0]:.0f}",
                 "CRCs only, thumbnail later", f"{cpu_ms(lambda: files.check_png_chunks(png4k), 3)[0]:.1f}"])

    with Image.open(io.BytesIO(jpeg2k)) as im:
        im.draft("RGB", (384, 384))
        drafted = im.copy()
    small = drafted.resize((384, 384))
    for method_a, method_b in ((4, 0), (2, 0)):
        a = cpu_ms(lambda m=method_a: small.save(io.BytesIO(), "WEBP", quality=75, method=m), 10)[0]
        b = cpu_ms(lambda m=method_b: small.save(io.BytesIO(), "WEBP", quality=75, method=m), 10)[0]
        rows.append(["WebP 384 px thumbnail", f"method {method_a}", f"{a:.1f}", f"method {method_b}", f"{b:.1f}"])
    lanczos = cpu_ms(lambda: drafted.resize((384, 384), Image.Resampling.LANCZOS), 10)[0]
    bilinear = cpu_ms(lambda: drafted.resize((384, 384), Image.Resampling.BILINEAR), 10)[0]
    rows.append(["resize after draft (2K JPEG, 512 -> 384)", "LANCZOS", f"{lanczos:.1f}", "BILINEAR", f"{bilinear:.1f}"])

    def full_jpeg() -> None:
        with Image.open(io.BytesIO(jpeg2k)) as im:
            im.load()

    def draft_jpeg() -> None:
        with Image.open(io.BytesIO(jpeg2k)) as im:
            im.draft("RGB", (384, 384))
            im.load()

    rows.append(["2K JPEG decode", "full", f"{cpu_ms(full_jpeg, 5)[0]:.1f}", "draft (1/4 DCT scale)",
                 f"{cpu_ms(draft_jpeg, 5)[0]:.1f}"])

    # fsync is I/O wait, not CPU: wall time of a thumbnail-sized atomic write with and without.
    tmp = Path(tempfile.mkdtemp(prefix="studio-bench-fsync-"))
    try:
        blob = os.urandom(30_000)

        def wall(durable: bool) -> float:
            times = []
            for i in range(20):
                t0 = time.perf_counter()
                files._atomic_write(tmp / f"t{durable}{i}.webp", blob, durable=durable, sync_dir=durable)
                times.append((time.perf_counter() - t0) * 1000)
            return percentile(times, 50)

        rows.append(["thumbnail write, 30 KB (wall ms)", "fsync file + dir", f"{wall(True):.2f}", "no fsync",
                     f"{wall(False):.2f}"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def vips_against_pillow() -> list[list[str]]:
    try:
        import pyvips  # type: ignore[import-not-found]
    except (ImportError, OSError):
        return []
    from app.storage.thumbnails import make_thumbnail
    from tests.fakes.photos import photo_bytes

    pyvips.cache_set_max(0)
    rows = []
    for side, fmt in ((2048, "jpeg"), (4096, "jpeg"), (4096, "png")):
        data = photo_bytes(side, side, fmt)
        pillow = cpu_ms(lambda d=data: make_thumbnail(d), 3)[0]
        vips = cpu_ms(lambda d=data: pyvips.Image.thumbnail_buffer(d, 384).webpsave_buffer(Q=75, effort=0), 3)[0]
        rows.append([f"{side}² {fmt.upper()}", f"{pillow:.0f}", f"{vips:.0f}", f"{pillow / vips:.2f}x"])
        bench_line("12.2", f"decode+thumbnail+WebP {side}px {fmt.upper()}: Pillow / libvips", pillow / vips, "x", "-")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=1, help="multiplies the repetitions of each case")
    args = parser.parse_args()
    install_signal_handlers()
    header("Storing one output: CPU per image (photograph-like inputs)")
    print(table(store_costs(args.reps), ["input", "bytes", "n", "store_output CPU ms p50", "thumbnail CPU ms",
                                          "thumbnail", "target (whole job)"]))
    print()
    print(table(levers(), ["lever", "before", "CPU ms", "after", "CPU ms"]))
    vips = vips_against_pillow()
    print()
    if vips:
        print(table(vips, ["input", "Pillow CPU ms", "libvips CPU ms", "Pillow / libvips"]))
        print("  decode + 384 px thumbnail + WebP (effort 0), CPU of this process; libvips' own threads included.")
    else:
        print("  pyvips is not installed: `.venv/bin/pip install pyvips pyvips-binary` to compare libvips with Pillow.")


if __name__ == "__main__":
    main()
