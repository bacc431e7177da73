"""How a validated request is stored on its task and rebuilt for a run or a retry.

Reference images are stored once as uploads (content-addressed); the task keeps only their ids,
so the parameters stay small, searchable, and free of image bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, fields
from typing import Any

from app.providers.base import GenerationRequest, ReferenceImage

_REQUEST_FIELDS = {f.name for f in fields(GenerationRequest)} - {"references"}


def request_to_parameters(request: GenerationRequest, reference_ids: list[str]) -> dict[str, Any]:
    data = {k: v for k, v in asdict(request).items() if k in _REQUEST_FIELDS}
    data["references"] = [
        {"id": rid, "content_type": ref.content_type, "width": ref.width, "height": ref.height}
        for rid, ref in zip(reference_ids, request.references, strict=True)
    ]
    return data


def parameters_to_request(
    parameters: dict[str, Any], load_upload: Callable[[str], tuple[bytes, str]]
) -> GenerationRequest:
    values = {k: v for k, v in parameters.items() if k in _REQUEST_FIELDS}
    refs = []
    for ref in parameters.get("references", []):
        data, content_type = load_upload(ref["id"])
        refs.append(ReferenceImage(data=data, content_type=content_type, width=ref["width"], height=ref["height"]))
    return GenerationRequest(**values, references=tuple(refs))


def public_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """Parameters as shown to users and embedded in files: reference ids instead of records."""
    data = dict(parameters)
    data["references"] = [ref["id"] for ref in parameters.get("references", [])]
    return data
