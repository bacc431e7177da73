"""Layered images (Ark layer decomposition): reading a set and packing it as a ZIP.

A member sees the layers of their own images only (an admin: all); another member's image answers
as missing, exactly like its task. The ZIP holds the base image and every layer as stored (PNG,
alpha kept) plus ``manifest.json``: the canvas size and, per layer, its file, z-index, bounding
box in both forms, name and description - enough to rebuild the picture in any editor.

No PSD. Measured 2026-11-30 with psd-tools 1.26.0 (the maintained writer; pytoshop's last release
is from 2018): it cannot write a non-Latin layer name (UnicodeEncodeError: the legacy name is
Mac Roman, and the upstream names layers in Chinese); read back, each layer's pixels come out right
only through its compositor (alpha exact, RGB within 1 level) while ``topil()`` reports alpha 255
everywhere because of an extra user-mask channel; and Pillow's independent PSD reader finds no
layers in the file at all. That is not faithful enough to hand to a designer, and it would add
numpy to the image; the ZIP and its manifest carry the same information losslessly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from sqlalchemy import select

from app.core.db import Database
from app.core.errors import NotFound
from app.models.layers import ImageLayer
from app.models.task import Image, Task
from app.schemas.layers import LayeredSetPublic, LayerPublic
from app.services.users import Principal
from app.storage.archive import ArcnameAllocator, sanitize_arcname, stream_zip
from app.storage.files import ImageStore
from app.storage.names import download_name

MANIFEST_VERSION = 1


def _not_found(image_id: str) -> NotFound:
    return NotFound(f"Image {image_id!r} does not exist.", message_zh=f"图片 {image_id!r} 不存在。")


class LayersService:
    def __init__(self, db: Database, store: ImageStore) -> None:
        self.db = db
        self.store = store

    async def load(self, image_id: str, who: Principal) -> tuple[Task, Image, list[ImageLayer]]:
        async with self.db.read() as session:
            row = (
                await session.execute(select(Image, Task).join(Task, Task.id == Image.task_id).where(Image.id == image_id))
            ).one_or_none()
            if row is None or (who.scope is not None and row.Task.owner_id != who.scope):
                raise _not_found(image_id)
            layers = list(
                (
                    await session.execute(
                        select(ImageLayer).where(ImageLayer.image_id == image_id).order_by(ImageLayer.position)
                    )
                ).scalars()
            )
        return row.Task, row.Image, layers

    def to_public(self, task: Task, image: Image, layers: list[ImageLayer]) -> LayeredSetPublic:
        return LayeredSetPublic(
            image_id=image.id,
            task_id=task.id,
            width=image.width,
            height=image.height,
            base_url=self.store.url_for(image.rel_path),
            base_thumbnail_url=self.store.url_for(image.thumb_rel_path) if image.thumb_rel_path else None,
            layers=[
                LayerPublic(
                    id=layer.id,
                    position=layer.position,
                    z_index=layer.z_index,
                    url=self.store.url_for(layer.rel_path),
                    thumbnail_url=self.store.url_for(layer.thumb_rel_path) if layer.thumb_rel_path else None,
                    width=layer.width,
                    height=layer.height,
                    box=layer.box,
                    box_normalized=layer.box_normalized,
                    full_canvas=(layer.width, layer.height) == (image.width, image.height),
                    name=layer.name,
                    description=layer.description,
                    content_type=layer.content_type,
                    bytes=layer.bytes,
                    missing=not self.store.output_exists(layer.rel_path),
                )
                for layer in layers
            ],
            zip_url=f"/api/v1/images/{image.id}/layers.zip",
            is_demo=task.provider == "demo",
        )

    async def download(self, image_id: str, who: Principal) -> tuple[str, AsyncIterator[bytes]]:
        """The archive's file name and its bytes, streamed."""
        task, image, layers = await self.load(image_id, who)
        if not layers:
            raise NotFound(
                f"Image {image_id!r} has no layers.", message_zh=f"图片 {image_id!r} 没有图层。"
            )
        stem = download_name(task.created_at, task.prompt, task.id, image.index, "x")[:-2]
        names = ArcnameAllocator()
        base_name = names.allocate(f"00_base.{image.rel_path.rsplit('.', 1)[-1]}")
        entries = [(base_name, self.store.output_dir / image.rel_path)]
        manifest_layers: list[dict[str, Any]] = []
        for layer in layers:
            label = sanitize_arcname(layer.name or "layer").replace("/", "_")[:60]
            name = names.allocate(f"{layer.position:02d}_{label}.{layer.rel_path.rsplit('.', 1)[-1]}")
            entries.append((name, self.store.output_dir / layer.rel_path))
            manifest_layers.append(
                {
                    "file": name,
                    "position": layer.position,
                    "z_index": layer.z_index,
                    "width": layer.width,
                    "height": layer.height,
                    # Where the PNG goes on the canvas: at 0,0 when it is canvas-sized, else into box.
                    "full_canvas": (layer.width, layer.height) == (image.width, image.height),
                    "bounding_box": {
                        "absolute": list(layer.box) if layer.box else None,
                        "normalized": list(layer.box_normalized) if layer.box_normalized else None,
                    },
                    "name": layer.name,
                    "description": layer.description,
                }
            )
        manifest: dict[str, Any] = {
            "version": MANIFEST_VERSION,
            "image_id": image.id,
            "task_id": task.id,
            "model": task.model,
            "prompt": task.prompt,
            "demo": task.provider == "demo",
            "canvas": {"width": image.width, "height": image.height},
            "base": {"file": base_name, "z_index": 0, "width": image.width, "height": image.height},
            "layers": manifest_layers,
            "created_at": task.created_at.isoformat(),
        }

        def trailer(missing: list[str]) -> dict[str, bytes]:
            gone = set(missing)
            for item in [manifest["base"], *manifest_layers]:
                if item["file"] in gone:
                    item["missing"] = True
            return {"manifest.json": orjson.dumps(manifest, option=orjson.OPT_INDENT_2)}

        return f"{stem}_layers.zip", stream_zip(entries, trailer)
