"""The history rebuilt from the stored images, and the start-up check that asks for it.

Every stored image carries the parameters it was made with (``app.storage.metadata``): task id,
index, model, prompt, negative prompt, seed, parameters, created_at. That is enough to write its
task and image rows again after the database was lost. What only the database knew (favourites,
failures of a partial group, attempts, when a job started) is not in the files and stays lost.

The rebuild is idempotent: images whose row exists are skipped, a task whose row exists only gains
its missing images, so it can be run again, or on a database restored from an older backup.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing.prices import to_micro
from app.core.db import Database
from app.core.errors import AppError, StartupRefused, StorageError
from app.jobs.handlers import image_id_for
from app.models.base import utcnow
from app.models.layers import ImageLayer
from app.models.task import Image, Task, TaskStatus, TaskType, Upload
from app.providers.catalog.lookup import Catalog
from app.providers.catalog.specs import EDIT_OPERATIONS
from app.storage import inventory
from app.storage.files import ImageStore
from app.storage.uploads import UploadInfo

logger = logging.getLogger("app.rebuild")

REBUILD_COMMAND = "python -m app.rebuild_history"
TASK_ID_RE = re.compile(r"^[0-9a-f]{32}$")
BATCH = 500


@dataclass(slots=True)
class RebuildReport:
    images_found: int = 0
    images_known: int = 0
    images_added: int = 0
    tasks_added: int = 0
    uploads_added: int = 0
    thumbnails_made: int = 0
    # (relative path, why) for each stored file that could not be turned back into history.
    skipped: list[tuple[str, str]] = field(default_factory=list)


async def ensure_history_present(db: Database, store: ImageStore) -> None:
    """Refuse to start with an empty history beside stored images: the database was lost or
    replaced, and starting would look like a fresh install while the images sit orphaned."""
    async with db.read() as session:
        if (await session.execute(select(Task.id).limit(1))).first() is not None:
            return
    count = await asyncio.to_thread(inventory.count_stored_images, store)
    if not count:
        return
    images = f"{count} stored image{'s are' if count != 1 else ' is'}"
    message = (
        f"The history is empty but {images} in {store.location}: the database was lost, emptied or "
        f"replaced. Refusing to start so this does not pass for a fresh install. Rebuild the history "
        f"from the parameters embedded in the images with `{REBUILD_COMMAND}` (in backend/, or /app in "
        f"the image, with the same DATA_DIR / DATABASE_URL), then start again; or, to start afresh, move "
        f"{store.location} away."
    )
    logger.critical("startup.history_lost", extra={"stored_images": count, "command": REBUILD_COMMAND})
    raise StartupRefused(message)


async def rebuild_history(
    db: Database,
    store: ImageStore,
    catalog: Catalog,
    *,
    progress: Callable[[int], None] | None = None,
) -> RebuildReport:
    """Add the task, image and upload rows the stored files describe and the database lacks."""
    report = RebuildReport()
    async with db.read() as session:
        known_images = set((await session.execute(select(Image.id))).scalars())
        known_images |= set((await session.execute(select(ImageLayer.id))).scalars())
        known_tasks = set((await session.execute(select(Task.id))).scalars())
        known_uploads = set((await session.execute(select(Upload.id))).scalars())

    uploads = await asyncio.to_thread(inventory.stored_uploads, store)
    by_upload_id = {info.sha256: info for info, _ in uploads}
    new_uploads = [_upload_row(info, stored_at) for info, stored_at in uploads if info.sha256 not in known_uploads]
    if new_uploads:
        await db.run_write(lambda session: session.add_all(new_uploads))
    report.uploads_added = len(new_uploads)

    # Grouped by task first: a task row needs all of its images (how many, when the last came).
    found: dict[str, list[tuple[inventory.RecoveredImage, dict[str, Any]]]] = {}
    for rel_path in await asyncio.to_thread(lambda: list(inventory.stored_images(store))):
        report.images_found += 1
        if progress is not None:
            progress(report.images_found)
        if rel_path.rsplit("/", 1)[-1].split(".", 1)[0] in known_images:
            report.images_known += 1
            continue
        try:
            recovered = await asyncio.to_thread(inventory.read_image, store, rel_path)
            why = _unusable(recovered)
            if why is None and not recovered.has_thumbnail:
                await asyncio.to_thread(inventory.remake_thumbnail, store, recovered)
                report.thumbnails_made += 1
        except (StorageError, OSError) as exc:
            # Left for a second run (a full disk) or for a person to look at (not an image).
            why = exc.message if isinstance(exc, StorageError) else str(exc)
        if why is not None:
            report.skipped.append((rel_path, why))
            continue
        assert recovered.metadata is not None
        found.setdefault(recovered.metadata["task_id"], []).append((recovered, recovered.metadata))

    rows: list[Task | Image] = []
    for task_id, images in found.items():
        if task_id not in known_tasks:
            rows.append(_task_row(task_id, images, catalog, by_upload_id))
            report.tasks_added += 1
        rows.extend(_image_row(task_id, recovered, meta) for recovered, meta in images)
        report.images_added += len(images)
        if len(rows) >= BATCH:
            await _insert(db, rows)
            rows = []
    if rows:
        await _insert(db, rows)
    return report


async def _insert(db: Database, rows: list[Task | Image]) -> None:
    def add(session: Session) -> None:
        # Tasks before their images: the foreign key wants the parent first.
        session.add_all([row for row in rows if isinstance(row, Task)])
        session.flush()
        session.add_all([row for row in rows if isinstance(row, Image)])

    await db.run_write(add)


def _unusable(recovered: inventory.RecoveredImage) -> str | None:
    meta = recovered.metadata
    if meta is None:
        return "no parameters embedded in the file"
    task_id, index = meta.get("task_id"), meta.get("index")
    if not isinstance(task_id, str) or not TASK_ID_RE.fullmatch(task_id) or not isinstance(index, int):
        return "the embedded parameters name no task"
    if "layer_of" in meta:
        # Its base image comes back as an image; its place in a set (box, name) is not rebuilt.
        return "a layer of a layered image (layers are not rebuilt from files)"
    if image_id_for(task_id, index) != recovered.image_id:
        return "the file name does not match the task its parameters name"
    if not isinstance(meta.get("model"), str):
        return "the embedded parameters name no model"
    return None


def _task_row(
    task_id: str,
    images: list[tuple[inventory.RecoveredImage, dict[str, Any]]],
    catalog: Catalog,
    uploads: dict[str, UploadInfo],
) -> Task:
    meta = images[0][1]
    parameters: dict[str, Any] = dict(meta["parameters"]) if isinstance(meta.get("parameters"), dict) else {}
    references = [ref for ref in parameters.get("references", []) if isinstance(ref, str)]
    # Stored as the task keeps them (app.jobs.codec): records, not the bare ids the file shows.
    parameters["references"] = [_reference(ref, uploads) for ref in references]
    mode = parameters.get("mode")
    # An edit's lineage is in its file: the operation and the image it was made from.
    operation = meta.get("operation") if meta.get("operation") in EDIT_OPERATIONS else None
    parent = meta.get("parent_image_id")
    parent_image_id = parent if operation and isinstance(parent, str) and 0 < len(parent) <= 32 else None
    if operation is not None:
        mode = TaskType.EDIT
    elif mode not in (TaskType.TEXT2IMAGE, TaskType.IMAGE2IMAGE):
        mode = TaskType.IMAGE2IMAGE if references else TaskType.TEXT2IMAGE
    if parameters.get("group_max_images"):
        # A group reports how many it made; the images stored are the best record of that.
        expected = len(images)
    else:
        expected = max(_int(parameters.get("num_images"), 1), len(images))
    created = _timestamp(meta.get("created_at")) or min(recovered.stored_at for recovered, _ in images)
    price = meta.get("unit_price_cny")
    unit_price = to_micro(price) if isinstance(price, (int, float)) and not isinstance(price, bool) and price >= 0 else 0
    return Task(
        id=task_id,
        type=mode,
        model=meta["model"],
        provider=_provider(meta["model"], catalog),
        status=TaskStatus.COMPLETED,
        progress=100,
        prompt=meta.get("prompt") if isinstance(meta.get("prompt"), str) else "",
        negative_prompt=meta.get("negative_prompt") if isinstance(meta.get("negative_prompt"), str) else None,
        parameters=parameters,
        operation=operation,
        parent_image_id=parent_image_id,
        expected_images=expected,
        checkpoint={},
        failures=[],
        error=None,
        # Spend: the images found were billed at the unit price each file records.
        unit_price_micro=unit_price,
        reserved_micro=0,
        billed_images=len(images),
        # Searches are counted only in the database: none when the task asked for none, else unknown.
        web_searches=None if parameters.get("web_search") else 0,
        cost_micro=unit_price * len(images),
        created_at=created,
        completed_at=max(recovered.stored_at for recovered, _ in images),
        updated_at=utcnow(),
    )


def _image_row(task_id: str, recovered: inventory.RecoveredImage, meta: dict[str, Any]) -> Image:
    seed = meta.get("seed")
    # StoredImage's fields are the image row's file columns, by name (but for whether its
    # thumbnail is still to be made, which is no column: the file tells).
    columns = {k: v for k, v in asdict(recovered.stored).items() if k != "thumbnail_pending"}
    return Image(
        **columns,
        id=recovered.image_id,
        task_id=task_id,
        index=meta["index"],
        seed=seed if isinstance(seed, int) else None,
        created_at=recovered.stored_at,
    )


def _upload_row(info: UploadInfo, stored_at: datetime) -> Upload:
    columns = asdict(info)
    columns["id"] = columns.pop("sha256")  # uploads are named by their hash
    return Upload(**columns, created_at=stored_at)


def _reference(upload_id: str, uploads: dict[str, UploadInfo]) -> dict[str, Any]:
    info = uploads.get(upload_id)
    if info is None:
        # The reference image is gone too: a retry will ask for it again (NotFound on load).
        return {"id": upload_id, "content_type": "application/octet-stream", "width": 0, "height": 0}
    return {"id": upload_id, "content_type": info.content_type, "width": info.width, "height": info.height}


def _provider(model: str, catalog: Catalog) -> str:
    try:
        return catalog.get(model).provider
    except AppError:
        # A model no longer in the catalogue (an extra Ark endpoint since removed).
        return "ark" if model.startswith(("doubao-", "ep-")) else "visual"


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and value > 0 else default
