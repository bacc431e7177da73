"""Request bodies of the Visual API's edit req_keys (catalogue: [[models.edit]] of Jimeng 4.0).

All four are async (CVSync2AsyncSubmitTask, then CVSync2AsyncGetResult with the same req_key):
- inpaint / erase, ``jimeng_image2image_dream_inpaint`` (docs 85621/1976207): two images in
  ``binary_data_base64``, the source then the single-channel mask (0 = keep, 255 = redraw);
  ``prompt`` (erase: the documented "删除"); ``seed``;
- outpaint, ``jimeng_img2img_seed3_painting_edit`` (reported): one image; ``top`` / ``bottom`` /
  ``left`` / ``right`` as ratios of the source's side; optional ``prompt``; ``seed``;
- upscale, ``jimeng_i2i_seed3_tilesr_cvtob`` (reported): one image; ``resolution`` "4k" / "8k";
  ``scale`` (detail, 0-100), sent at its reported default.
"""

from __future__ import annotations

from typing import Any

from app.providers.base import GenerationRequest

UPSCALE_DETAIL = 50


def build_edit_body(request: GenerationRequest, *, seed: int | None) -> dict[str, Any]:
    """The submit body for an edit request (``request.operation`` set)."""
    body: dict[str, Any] = {
        "req_key": request.edit_req_key,
        # Raw base64, no data-URI prefix: the upstream fetches nothing of ours.
        "binary_data_base64": [ref.b64() for ref in request.references],
    }
    if request.operation == "upscale":
        body["resolution"] = request.resolution or "4k"
        body["scale"] = UPSCALE_DETAIL
        return body
    if request.prompt:
        body["prompt"] = request.prompt
    if seed is not None:
        body["seed"] = seed
    if request.operation == "outpaint":
        body.update(
            top=request.expand_top, bottom=request.expand_bottom, left=request.expand_left, right=request.expand_right
        )
    return body
