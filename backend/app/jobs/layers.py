"""Storing a layered image's layers within its job (see ``app.jobs.handlers``).

A layered set is stored whole: every layer is downloaded at once (upstream URLs expire) and
written to its own file before the base image's row and the layer rows land in one transaction.
Layer ids (and so file names) are derived from the base image id and the layer's position, so a
re-run after a crash overwrites what an earlier run left, never adds a second copy. The layer
descriptions (URLs included) ride in the task's checkpoint next to the base image's URL, so a
re-run downloads the set again instead of paying for a new one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.core.errors import ProviderError
from app.models.layers import ImageLayer
from app.providers.base import LayerResult
from app.providers.layers import complete_boxes
from app.storage.files import StoredImage

Fetch = Callable[[str], Awaitable[tuple[bytes, str]]]
StoreOutput = Callable[..., Awaitable[StoredImage]]
Delete = Callable[[str, str | None], Awaitable[None]]


def layer_id_for(image_id: str, position: int) -> str:
    return f"{image_id}l{position:03d}"


def to_checkpoint(layers: Sequence[LayerResult]) -> list[dict[str, Any]] | None:
    """What a re-run needs to fetch the layers again; None when some came as bytes (those cannot
    be fetched again, and the checkpoint is no place for megabytes)."""
    if any(not layer.url for layer in layers):
        return None
    return [
        {
            "z_index": layer.z_index,
            "url": layer.url,
            "box": list(layer.box) if layer.box else None,
            "box_normalized": list(layer.box_normalized) if layer.box_normalized else None,
            "name": layer.name,
            "description": layer.description,
            "output_format": layer.output_format,
        }
        for layer in layers
    ]


def _box(value: Any) -> tuple[int, int, int, int] | None:
    if isinstance(value, list) and len(value) == 4 and all(isinstance(v, int) for v in value):
        return value[0], value[1], value[2], value[3]
    return None


def from_checkpoint(raw: Any) -> tuple[LayerResult, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        LayerResult(
            z_index=int(item["z_index"]),
            url=item["url"],
            box=_box(item.get("box")),
            box_normalized=_box(item.get("box_normalized")),
            name=item.get("name"),
            description=item.get("description"),
            output_format=item.get("output_format"),
        )
        for item in raw
        if isinstance(item, dict) and isinstance(item.get("url"), str)
    )


async def fetch_layers(fetch: Fetch, layers: Sequence[LayerResult]) -> list[bytes]:
    """Every layer's bytes, downloaded together (a set is only worth keeping whole)."""

    async def one(layer: LayerResult) -> bytes:
        if layer.data is not None:
            return layer.data
        if not layer.url:
            raise ProviderError(
                "The upstream returned a layer with neither URL nor data.",
                message_zh="上游返回的图层既没有链接也没有数据。",
            )
        data, _ = await fetch(layer.url)
        return data

    return list(await asyncio.gather(*(one(layer) for layer in layers)))


@dataclass(frozen=True, slots=True)
class StoredLayer:
    layer: LayerResult
    position: int
    stored: StoredImage


async def store_layer_files(
    store_output: StoreOutput,
    image_id: str,
    layers: Sequence[LayerResult],
    data: Sequence[bytes],
    *,
    created: datetime,
    metadata: dict[str, Any],
    delete: Delete,
) -> list[StoredLayer]:
    """Write each layer's file (and thumbnail). When one fails, the layers already written are
    removed (``delete``) before the error goes on: half a set is not kept."""
    stored: list[StoredLayer] = []
    try:
        for position, (layer, raw) in enumerate(zip(layers, data, strict=True), start=1):
            layer_meta = {
                **metadata,
                "layer_of": image_id,
                "layer": {"position": position, "z_index": layer.z_index, "name": layer.name},
            }
            writing = asyncio.ensure_future(
                store_output(layer_id_for(image_id, position), raw, created=created, metadata=layer_meta)
            )
            # A worker cannot be interrupted: let the write finish, so the cleanup knows what it left.
            result = await asyncio.shield(writing)
            stored.append(StoredLayer(layer, position, result))
    except BaseException:
        await delete_layer_files(delete, stored)
        raise
    return stored


async def delete_layer_files(delete: Delete, stored: Sequence[StoredLayer]) -> None:
    for item in stored:
        await delete(item.stored.rel_path, item.stored.thumb_rel_path)


def layer_rows(image_id: str, width: int, height: int, stored: Sequence[StoredLayer]) -> list[ImageLayer]:
    rows = []
    for item in stored:
        box, norm = complete_boxes(item.layer, width, height)
        rows.append(
            ImageLayer(
                id=layer_id_for(image_id, item.position),
                image_id=image_id,
                position=item.position,
                z_index=item.layer.z_index,
                rel_path=item.stored.rel_path,
                thumb_rel_path=item.stored.thumb_rel_path,
                width=item.stored.width,
                height=item.stored.height,
                bytes=item.stored.bytes,
                sha256=item.stored.sha256,
                content_type=item.stored.content_type,
                box_x0=box[0] if box else None,
                box_y0=box[1] if box else None,
                box_x1=box[2] if box else None,
                box_y1=box[3] if box else None,
                norm_x0=norm[0] if norm else None,
                norm_y0=norm[1] if norm else None,
                norm_x1=norm[2] if norm else None,
                norm_y1=norm[3] if norm else None,
                name=item.layer.name,
                description=item.layer.description,
            )
        )
    return rows
