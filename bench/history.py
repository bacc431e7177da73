"""Benchmark 3: history at scale.

100 000 completed tasks (each with one image row) are bulk-inserted through the real SQLAlchemy
models into a fresh DATA_DIR after the migrations ran (app.core.db.Database, app.models): mixed
Chinese and English prompts, several models, ~5 % favourites. Then a uvicorn process serves that
DATA_DIR and each query is timed over HTTP, sequentially (1 warm-up + 40 timed requests):
first page, page 1000 by OFFSET and by cursor (keyset), filter by model, favourites, prompt search
(Chinese and English substrings through the FTS5 trigram index, and a 1-character Chinese search that
falls back to LIKE). Targets (issue 12, item 6): first page p95 <= 10 ms, searches p95 <= 20 ms;
the other pages and filters <= 25 ms. Prints `BENCH|12.6|<name>|<p95>|ms|<target>` per query.

The same again on PostgreSQL (a throw-away cluster of Debian's postgresql, as the tests start; the
table VACUUM ANALYZEd after the insert, as autovacuum would leave it), where the search is pg_trgm.

Run: cd backend && ../.venv/bin/python ../bench/history.py [--rows 100000] [--databases sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import urllib.parse
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from _common import Procs, header, install_signal_handlers, load_test_module, percentile, table, verdict

MODELS = [
    ("demo", "demo"),
    ("doubao-seedream-4-0-250828", "ark"),
    ("doubao-seedream-4-5-251128", "ark"),
    ("doubao-seedream-3-0-t2i-250415", "ark"),
    ("jimeng_t2i_v30", "visual"),
]
SUBJECTS_ZH = ["一只橘猫", "赛博朋克城市", "水墨山水", "宇航员", "古风少女", "雪山日出", "樱花小巷", "机械巨龙", "海边灯塔", "竹林小屋"]
STYLES_ZH = ["电影感光影", "油画质感", "超高清细节", "柔和的晨光", "国潮插画风格", "蒸汽波配色", "胶片颗粒", "极简构图"]
SUBJECTS_EN = ["a red fox in the snow", "a lighthouse at dusk", "an astronaut riding a horse", "a cozy reading nook",
               "a futuristic tokyo street", "a bowl of ramen", "a medieval castle", "a koi pond", "a steam locomotive"]
STYLES_EN = ["cinematic lighting", "oil painting", "studio photo, 85mm", "watercolor", "isometric 3d render",
             "ukiyo-e woodblock print", "volumetric fog", "golden hour"]
SEARCH_ZH = "水墨山水"
SEARCH_EN = "lighthouse"
SEARCH_SHORT = "猫"  # under 3 characters: LIKE, a scan


def prompt_for(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"{rng.choice(SUBJECTS_ZH)}，{rng.choice(STYLES_ZH)}，{rng.choice(STYLES_ZH)}"
    return f"{rng.choice(SUBJECTS_EN)}, {rng.choice(STYLES_EN)}, {rng.choice(STYLES_EN)}, highly detailed"


async def populate(data_dir: Path, rows: int, database_url: str | None = None) -> float:
    from sqlalchemy import insert

    from app.core.db import Database
    from app.models.task import Image, Task

    data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(database_url or f"sqlite+aiosqlite:///{(data_dir / 'app.db').resolve()}")
    await db.migrate()
    rng = random.Random(42)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    t0 = time.perf_counter()
    chunk = 5000
    for base in range(0, rows, chunk):
        tasks, images = [], []
        for i in range(base, min(rows, base + chunk)):
            model, provider = MODELS[i % len(MODELS)]
            created = start + timedelta(seconds=i * 30 + rng.randint(0, 20))
            task_id = uuid.uuid4().hex
            seed = rng.randrange(2**31)
            tasks.append({
                "id": task_id, "type": "text2image", "model": model, "provider": provider, "status": "completed",
                "progress": 100, "prompt": prompt_for(rng), "negative_prompt": None,
                "parameters": {"size": "1024x1024", "width": 1024, "height": 1024, "num_images": 1, "seed": seed,
                               "watermark": False},
                "expected_images": 1, "checkpoint": {}, "failures": [], "error": None, "favorite": rng.random() < 0.05,
                "attempts": 1, "cancel_requested": False, "created_at": created,
                "started_at": created + timedelta(milliseconds=5), "completed_at": created + timedelta(seconds=8),
                "updated_at": created + timedelta(seconds=8),
            })
            day = created.strftime("%Y/%m/%d")
            image_id = f"{task_id[:26]}i00000"
            images.append({
                "id": image_id, "task_id": task_id, "index": 0, "rel_path": f"{day}/{image_id}.png",
                "thumb_rel_path": f"{day}/{image_id}.thumb.webp", "width": 1024, "height": 1024, "bytes": 1_234_567,
                "sha256": "0" * 64, "content_type": "image/png", "seed": seed, "created_at": created,
            })
        async with db.write() as session:
            await session.execute(insert(Task), tasks)
            await session.execute(insert(Image), images)
    from sqlalchemy import text
    if db.is_sqlite:
        async with db.write() as session:
            await session.execute(text("ANALYZE"))
    else:
        # What autovacuum does to a table that has stopped growing: statistics, and the visibility
        # map that lets counts and index scans skip the heap. VACUUM cannot run in a transaction.
        async with db.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
    await db.dispose()
    return time.perf_counter() - t0


async def measure(origin: str, queries: list[tuple[str, dict]], repeat: int) -> list[tuple[str, float, float, int, int]]:
    out = []
    async with aiohttp.ClientSession() as session:
        for name, params in queries:
            url = f"{origin}/api/v1/history?{urllib.parse.urlencode(params)}"
            times = []
            total = size = 0
            for i in range(repeat + 1):
                t0 = time.perf_counter()
                async with session.get(url) as resp:
                    body = await resp.read()
                    status = resp.status
                if i:  # the first is a warm-up
                    times.append((time.perf_counter() - t0) * 1000)
                if status != 200:
                    raise RuntimeError(f"{url}: HTTP {status} {body[:200]!r}")
                import json
                total, size = json.loads(body)["total"], len(body)
            out.append((name, percentile(times, 50), percentile(times, 95), total, size))
    return out


async def in_process(data_dir: Path, queries: list[tuple[str, dict]], repeat: int,
                     database_url: str | None = None) -> dict[str, float]:
    """The same queries without HTTP: TaskService.history + to_public + JSON, p50 ms."""
    from app.billing.prices import PriceTable
    from app.core.config import Settings
    from app.core.db import Database
    from app.jobs.events import TaskEvents
    from app.providers.catalog.lookup import Catalog
    from app.schemas.task import HistoryQuery
    from app.services.collections import CollectionService
    from app.services.tasks import TaskService
    from app.services.usage import UsageService
    from app.services.users import UserService
    from app.storage.files import ImageStore

    settings = Settings(DATA_DIR=str(data_dir), RUN_WORKER=False, **({"DATABASE_URL": database_url} if database_url else {}))
    db = Database(settings.database_url)
    usage = UsageService(db=db, prices=PriceTable.load(settings.prices_file), settings=settings)
    store = ImageStore(settings.output_dir, settings.uploads_dir, min_free_bytes=0)
    service = TaskService(db=db, store=store,
                          catalog=Catalog.from_settings(settings), events=TaskEvents(), notify_worker=lambda: None,
                          notify_cancel=lambda _id: None, max_upload_bytes=1, max_image_pixels=1, usage=usage,
                          collections=CollectionService(db, store))
    # The install's admin sees every task, as the HTTP figures (no password: the admin) do.
    who = await UserService(db).bootstrap(settings.admin_username)
    out = {}
    try:
        for name, params in queries:
            times = []
            for i in range(repeat + 1):
                t0 = time.perf_counter()
                page = await service.history_page(HistoryQuery(**params), who)
                page.model_dump_json()
                if i:
                    times.append((time.perf_counter() - t0) * 1000)
            out[name] = percentile(times, 50)
    finally:
        await db.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--databases", default="sqlite,postgresql",
                        help="which to measure, comma-separated: sqlite, postgresql (a throw-away cluster, tests/pg.py)")
    args = parser.parse_args()
    install_signal_handlers()
    for database in [d.strip() for d in args.databases.split(",") if d.strip()]:
        if database == "sqlite":
            header(f"History at scale: {args.rows} completed tasks, SQLite")
            run(args, None)
            continue
        header(f"History at scale: {args.rows} completed tasks, PostgreSQL")
        cluster = load_test_module("pg").Cluster()
        cluster.start()
        try:
            run(args, cluster.url(asyncio.run(cluster.create_database(template="template0"))))
        finally:
            cluster.stop()


def run(args: argparse.Namespace, database_url: str | None) -> None:
    db_name = "PostgreSQL" if database_url else "SQLite"
    with Procs() as procs:
        data_dir = procs.tmp / "data"
        insert_s = asyncio.run(populate(data_dir, args.rows, database_url))
        print(f"   inserted {args.rows} tasks + images in {insert_s:.1f} s")
        env = {"DATABASE_URL": database_url} if database_url else None
        _, origin = procs.backend(data_dir=data_dir, name="uvicorn-history", env=env)
        ps = 50
        deep_cursor = asyncio.run(cursor_at(origin, {"page": 999, "page_size": ps}))
        queries = [
            ("baseline: empty result", {"page": 1, "page_size": 1, "model": "no-such-model"}),
            ("first page", {"page": 1, "page_size": ps}),
            ("page 1000", {"page": 1000, "page_size": ps}),
            ("page 1000 by cursor", {"page_size": ps, "cursor": deep_cursor}),
            ("model filter", {"page": 1, "page_size": ps, "model": "doubao-seedream-4-5-251128"}),
            ("favourites", {"page": 1, "page_size": ps, "favorite": "true"}),
            (f"search zh '{SEARCH_ZH}'", {"page": 1, "page_size": ps, "q": SEARCH_ZH}),
            (f"search en '{SEARCH_EN}'", {"page": 1, "page_size": ps, "q": SEARCH_EN}),
            (f"search 1 char '{SEARCH_SHORT}' (LIKE)", {"page": 1, "page_size": ps, "q": SEARCH_SHORT}),
        ]
        results = asyncio.run(measure(origin, queries, args.repeat))
        direct = asyncio.run(in_process(data_dir, queries, 10, database_url))
    rows = []
    bench_lines = []
    for name, p50, p95, total, size in results:
        limit = target(name)
        if not name.startswith("baseline"):
            where = "" if db_name == "SQLite" else f" ({db_name})"
            bench_lines.append(f"BENCH|12.6|history{where} {name} p95|{p95:.1f}|ms|<={limit}")
        rows.append([name, f"{p50:.1f}", f"{p95:.1f}", f"<= {limit}", "-" if name.startswith("baseline") else verdict(p95 <= limit),
                     f"{direct[name]:.1f}", total, f"{size / 1024:.0f} KB"])
    print(table(rows, ["query (page_size=50)", "HTTP p50 ms", "HTTP p95 ms", "target", "", "in-process p50 ms", "total",
                       "JSON"]))
    print("  in-process = TaskService.history + to_public + JSON without HTTP (same DB, same machine, after the HTTP runs);"
          " baseline = a query matching nothing: the cost of the HTTP stack itself")
    print("\n".join(bench_lines))


def target(name: str) -> int:
    if name == "first page":
        return 10
    if name.startswith("search") and "LIKE" not in name:
        return 20
    if name.startswith("search"):
        return 150  # a scan by design: a trigram index cannot answer under 3 characters
    return 25


async def cursor_at(origin: str, params: dict) -> str:
    """The next_cursor of one page (the page before the one measured by cursor)."""
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{origin}/api/v1/history?{urllib.parse.urlencode(params)}") as resp:
            body = await resp.json()
    return str(body["next_cursor"])


if __name__ == "__main__":
    main()
