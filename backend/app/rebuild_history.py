"""`python -m app.rebuild_history`: rebuild the history from the parameters inside the stored images.

For a database that was lost, emptied or replaced (the service refuses to start with an empty
history beside stored images). Uses the same settings as the service (DATA_DIR, DATABASE_URL,
OUTPUT_DIR); run it in backend/ while the service is stopped. Safe to run again: what is already
in the history is left as it is.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from app.core.config import Settings
from app.core.db import Database
from app.providers.catalog.lookup import Catalog
from app.services.rebuild import RebuildReport, rebuild_history
from app.storage.backends import build_store

PROGRESS_EVERY = 1000


async def run(settings: Settings) -> RebuildReport:
    db = Database(settings.database_url)
    try:
        await db.migrate()
        store = build_store(settings)

        def progress(seen: int) -> None:
            if seen % PROGRESS_EVERY == 0:
                print(f"  {seen} images read…", flush=True)

        try:
            return await rebuild_history(db, store, Catalog.from_settings(settings), progress=progress)
        finally:
            store.close()
    finally:
        await db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.rebuild_history",
        description="Rebuild the history (tasks and images) from the parameters embedded in the stored images.",
    )
    parser.parse_args(argv)
    settings = Settings()
    print(f"Rebuilding the history from {settings.output_dir}", flush=True)
    report = asyncio.run(run(settings))
    print(
        f"{report.images_found} stored images: {report.images_known} already in the history, "
        f"{report.tasks_added} tasks and {report.images_added} images added "
        f"({report.uploads_added} reference images, {report.thumbnails_made} thumbnails made again)."
    )
    if report.skipped:
        print(f"{len(report.skipped)} files could not be turned back into history (left in place):")
        for rel_path, why in report.skipped:
            print(f"  {rel_path}: {why}")
    print("Not in the files, so not restored: favourites, failures of partial groups, attempts.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
