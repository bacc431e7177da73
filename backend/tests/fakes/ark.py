"""A fake Ark Images API (``POST /api/v3/images/generations``) speaking the wire format of
shared/volcengine-api.md section 1, with the same validation rules as the real service plus one
deliberate strictness: ``watermark`` must be sent explicitly as a bool (the upstream default is
true, so a client that forgets it leaks watermarks).

In-process:  ``async with FakeArkServer(api_key="k") as fake: fake.base_url``
As a process (from backend/): ``python -m tests.fakes.ark --port 18001 --api-key K --latency-ms 0``
prints ``READY <base_url>`` when listening.

Prompt markers: ``[fault:auth]``, ``[fault:429]``, ``[fault:429:retry-after=2]``, ``[fault:quota]``,
``[fault:setlimit]``, ``[fault:500]`` (option ``should-retry=false`` adds ``x-should-retry``),
``[fault:code=<ArkCode>]``, ``[fault:moderation-input]``, ``[fault:moderation-output]``,
``[fault:timeout]``, ``[fault:timeout-after-headers]``, ``[fault:truncated]``, ``[fault:garbage]``,
``[fault:slow:ms=N]`` (answers well after N ms), ``[fault:partial:1]`` (group image 1 fails; several indexes allowed: ``partial:0:2``),
Seedream 5.x speak the newer fields of the official SDK's types (volcenginesdkarkruntime/types/
images): ``output_format`` (jpeg | png, echoed per image), ``tools: [{"type": "web_search"}]``
(5.0 Lite only; the answer's ``usage.tool_usage.web_search`` counts the searches: one per image, or
``web_searches`` when a test sets it) and ``usage.input_images``.

Seedream 5.0 Pro takes ``layer_decomposition`` (see ``tests.fakes.ark_layers`` for the answer and
its markers; ``layer_count`` sets how many layers, default 3).

``[fault:url-403]``, ``[fault:url-404]``, ``[fault:url-html]``, ``[fault:url-drip]`` (the image
one byte every ``drip_interval`` s), ``[fault:drip]`` (the JSON answer the same way; option
``interval``), ``[fault:huge:mb=N]`` (an N MB answer), ``[fault:extra:K]`` (K images more than
asked); every marker takes ``times=N``.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.ark_layers import LAYER_FAMILIES, layer_items
from tests.fakes.common import (
    FakeServer,
    Fault,
    SSEWriter,
    common_arguments,
    fit_size,
    parse_wxh,
    png_bytes,
    request_id,
    run_until_signal,
)

GENERATIONS_PATH = "/api/v3/images/generations"
ACTION = "images.generations"

SEEDREAM_45 = "doubao-seedream-4-5-251128"
SEEDREAM_40 = "doubao-seedream-4-0-250828"
SEEDREAM_30 = "doubao-seedream-3-0-t2i-250415"
SEEDEDIT_30 = "doubao-seededit-3-0-i2i-250628"
SEEDREAM_50_LITE = "doubao-seedream-5-0-260128"
SEEDREAM_50_PRO = "doubao-seedream-5-0-pro-260628"
MODELS = {SEEDREAM_45: "4.5", SEEDREAM_40: "4.0", SEEDREAM_30: "3.0", SEEDEDIT_30: "seededit",
          SEEDREAM_50_LITE: "5.0-lite", "doubao-seedream-5-0-lite-260128": "5.0-lite", SEEDREAM_50_PRO: "5.0-pro"}

_NAMED = {"1K": 1024, "2K": 2048, "3K": 3072, "4K": 4096}
_NAMED_BY_FAMILY = {"4.5": {"2K", "4K"}, "4.0": {"1K", "2K", "4K"}, "5.0-lite": {"2K", "3K"}, "5.0-pro": {"1K", "2K"}}
_PIXELS_BY_FAMILY = {"4.5": (3_686_400, 16_777_216), "4.0": (921_600, 16_777_216),
                     "5.0-lite": (3_686_400, 10_404_496), "5.0-pro": (921_600, 4_194_304)}
# Families that take group / stream, output_format, the web-search tool.
_SEQUENTIAL = {"4.0", "4.5", "5.0-lite"}
_FIVE = {"5.0-lite", "5.0-pro"}
_WEB_SEARCH = {"5.0-lite"}
_MAX_REFS = {"5.0-pro": 10}
_IMAGE_FORMATS = {"png", "jpeg", "jpg", "webp", "bmp", "tiff", "gif"}

# HTTP status the real service uses for an error code (section 1.8).
_STATUS_BY_PREFIX = (
    ("AuthenticationError", 401),
    ("AccountOverdueError", 403),
    ("AccessDenied", 403),
    ("OperationDenied", 403),
    ("ModelNotOpen", 404),
    ("InvalidEndpointOrModel", 404),
    ("RateLimitExceeded", 429),
    ("ModelAccount", 429),
    ("AccountRateLimitExceeded", 429),
    ("RequestBurstTooFast", 429),
    ("ServerOverloaded", 429),
    ("QuotaExceeded", 429),
    ("SetLimitExceeded", 429),
    ("InternalServiceError", 500),
)


class ArkValidationError(Exception):
    def __init__(self, code: str, message: str, status: int = 400, param: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.param = code, message, status, param


@dataclass(slots=True)
class _Plan:
    """What one accepted request will produce."""

    family: str
    count: int
    width: int
    height: int
    b64: bool
    stream: bool
    group: bool
    output_format: str | None = None
    web_search: bool = False
    input_images: int = 0
    layers: bool = False


class FakeArkServer(FakeServer):
    service = "ark"

    def __init__(self, *, api_key: str, extra_models: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api_key = api_key
        self.extra_models = set(extra_models)
        # Stream framing knobs, to exercise the client's SSE parser.
        self.sse_pretty = False
        self.sse_crlf = False
        # Seconds between group frames (the real service takes ~20 s per image).
        self.frame_delay = 0.0
        # Searches one answer reports when the web-search tool is on; None = one per image.
        self.web_searches: int | None = None
        # Layers in a layered answer (layer_decomposition).
        self.layer_count = 3

    @property
    def base_url(self) -> str:
        return f"{self.origin}/api/v3"

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(GENERATIONS_PATH, self._generations)

    def action_of(self, request: web.Request) -> str:
        return ACTION if request.path == GENERATIONS_PATH else request.path

    def throttle_response(self, request: web.Request) -> web.Response:
        return self.error_response("RateLimitExceeded", "Request rate limit exceeded, please try again later.", 429)

    # -- responses ---------------------------------------------------------------------------------
    @staticmethod
    def error_response(code: str, message: str, status: int | None = None, *, param: str = "",
                       headers: dict[str, str] | None = None) -> web.Response:
        if status is None:
            status = next((s for prefix, s in _STATUS_BY_PREFIX if code.startswith(prefix)), 400)
        kind = {401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 429: "TooManyRequests"}.get(
            status, "BadRequest" if status < 500 else "InternalServerError"
        )
        body = {"error": {"code": code, "message": f"{message} Request ID: {request_id()}", "param": param,
                          "type": kind}}
        return web.json_response(body, status=status, headers=headers)

    def _family(self, model: Any) -> str | None:
        if not isinstance(model, str):
            return None
        if model in MODELS:
            return MODELS[model]
        if model in self.extra_models or model.startswith("ep-"):
            return "4.0"
        return None

    # -- handler -----------------------------------------------------------------------------------
    async def _generations(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self.stats.bodies.append((ACTION, body))
        prompt = body.get("prompt") if isinstance(body, dict) else None
        faults = self._faults(prompt)
        kinds = {fault.kind: fault for fault in faults}

        if request.headers.get("Authorization") != f"Bearer {self.api_key}" or "auth" in kinds:
            return self.error_response(
                "AuthenticationError", "The API key in the request is missing or invalid.", 401
            )
        if "slow" in kinds:
            # A long generation that ends well (option ms, default 5000).
            await self.stall((kinds["slow"].option_float("ms") or 5000) / 1000)
        if "timeout" in kinds:
            await self.stall()
            return self.error_response("InternalServiceError", "fake: stalled past the client timeout.", 500)
        early = self._early_fault(kinds)
        if early is not None:
            return early
        if not isinstance(body, dict):
            return self.error_response("InvalidParameter", "The request body is not valid JSON.")
        try:
            plan = self._validate(body)
        except ArkValidationError as exc:
            return self.error_response(exc.code, exc.message, exc.status, param=exc.param)

        if "moderation-input" in kinds:
            return self.error_response(
                "InputTextSensitiveContentDetected", "The request failed because the input text may contain sensitive information."
            )
        if "garbage" in kinds:
            return self.garbage()
        if "huge" in kinds:
            return await self.huge(request, kinds["huge"].option_float("mb") or 200)
        if "timeout-after-headers" in kinds:
            return await self.stalled_after_headers(
                request, "text/event-stream" if plan.stream else "application/json"
            )
        failed = kinds["partial"].int_args() if "partial" in kinds else set()
        if "extra" in kinds:
            # A misbehaving upstream: more images than were asked for.
            plan.count += max(kinds["extra"].int_args() or {1})
        if "moderation-output" in kinds:
            if not plan.group:
                return self.error_response(
                    "OutputImageSensitiveContentDetected", "The request failed because the output image may contain sensitive information."
                )
            failed = set(range(plan.count))
        url_fault = next((k for k in kinds if k.startswith("url-")), None)
        searches = self.web_searches
        if plan.layers:
            return await self._layered(request, body, plan, set(kinds), url_fault)
        if plan.stream:
            return await self._stream(request, body, plan, failed, url_fault, truncated="truncated" in kinds,
                                      searches=searches)
        payload = json.dumps(self._response(body, plan, failed, url_fault, searches)).encode()
        if "drip" in kinds:
            return await self.dripped(request, payload, "application/json",
                                      interval=kinds["drip"].option_float("interval") or self.drip_interval)
        if "truncated" in kinds:
            return await self.truncated(request, payload, "application/json")
        return web.Response(body=payload, content_type="application/json")

    def _faults(self, prompt: Any) -> list[Fault]:
        faults = []
        queued = self.faults.take(ACTION)
        if queued is not None:
            faults.append(queued)
        for fault in self.marker_faults(prompt):
            self.use_marker(fault, prompt)
            faults.append(fault)
        return faults

    def _early_fault(self, kinds: dict[str, Fault]) -> web.Response | None:
        """Faults the service returns before looking at the body (gateway / throttling)."""
        headers: dict[str, str] = {}
        for fault in kinds.values():
            if "retry-after" in fault.options:
                headers["Retry-After"] = fault.options["retry-after"]
            if "should-retry" in fault.options:
                headers["x-should-retry"] = fault.options["should-retry"]
        if "429" in kinds:
            return self.error_response(
                "ModelAccountIpmRateLimitExceeded", "You have exceeded the IPM rate limit of the model.", 429,
                headers=headers,
            )
        if "quota" in kinds:
            return self.error_response("QuotaExceeded", "The quota of the account is used up.", 429, headers=headers)
        if "setlimit" in kinds:
            return self.error_response("SetLimitExceeded", "You have reached the inference limit you set.", 429,
                                       headers=headers)
        if "500" in kinds or "503" in kinds:
            status = 503 if "503" in kinds else 500
            return self.error_response("InternalServiceError", "The service encountered an unexpected internal error.",
                                       status, headers=headers)
        if "code" in kinds:
            code = kinds["code"].options.get("code") or (kinds["code"].args or ("InternalServiceError",))[0]
            return self.error_response(code, f"fake: injected {code}.", headers=headers)
        return None

    # -- validation (section 1.3-1.5) ----------------------------------------------------------------
    def _validate(self, body: dict[str, Any]) -> _Plan:
        model = body.get("model")
        if not model:
            raise ArkValidationError("MissingParameter", "The request is missing the required parameter model.", param="model")
        family = self._family(model)
        if family is None:
            raise ArkValidationError(
                "InvalidEndpointOrModel.NotFound",
                f"The model or endpoint {model} does not exist or you do not have access to it.",
                404,
            )
        four = family in _SEQUENTIAL or family in _FIVE
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise ArkValidationError("MissingParameter", "The request is missing the required parameter prompt.", param="prompt")
        if not isinstance(body.get("watermark"), bool):
            raise ArkValidationError(
                "MissingParameter", "fake: watermark must be sent explicitly as a boolean.", param="watermark"
            )
        if body.get("response_format") not in (None, "url", "b64_json"):
            raise ArkValidationError("InvalidParameter", "response_format must be url or b64_json.", param="response_format")

        images = self._images(body.get("image"), family)
        for name, low, high in (("seed", -1, 2_147_483_647), ("guidance_scale", 1, 10)):
            value = body.get(name)
            if value is None:
                continue
            if four:
                raise ArkValidationError("InvalidParameter", f"The parameter {name} is not supported by model {model}.", param=name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise ArkValidationError("InvalidParameter", f"The parameter {name} is out of range.", param=name)

        stream = body.get("stream")
        if stream is not None and not isinstance(stream, bool):
            raise ArkValidationError("InvalidParameter", "stream must be a boolean.", param="stream")
        layers = body.get("layer_decomposition")
        if layers is not None:
            if family not in LAYER_FAMILIES:
                raise ArkValidationError("InvalidParameter", f"The parameter layer_decomposition is not supported by model {model}.",
                                         param="layer_decomposition")
            if not isinstance(layers, bool):
                raise ArkValidationError("InvalidParameter", "layer_decomposition must be a boolean.", param="layer_decomposition")
        sequential = body.get("sequential_image_generation")
        # A layered answer may stream (its images as frames); groups stay with the 4.x / 5.0 Lite families.
        if family not in _SEQUENTIAL and ((stream and not layers) or sequential is not None or body.get("sequential_image_generation_options")):
            raise ArkValidationError(
                "InvalidParameter.UnsupportedModel", f"Streaming and group generation are not supported by model {model}."
            )
        if sequential not in (None, "auto", "disabled"):
            raise ArkValidationError("InvalidParameter", "sequential_image_generation must be auto or disabled.")
        group = sequential == "auto"
        count = 1
        if group:
            options = body.get("sequential_image_generation_options") or {}
            max_images = options.get("max_images", 15) if isinstance(options, dict) else None
            if isinstance(max_images, bool) or not isinstance(max_images, int) or not 1 <= max_images <= 15:
                raise ArkValidationError("InvalidParameter", "max_images must be an integer in [1, 15].")
            if len(images) + max_images > 15:
                raise ArkValidationError(
                    "InvalidParameter", "The number of input images plus max_images must not exceed 15."
                )
            count = max_images
        optimize = body.get("optimize_prompt_options")
        if optimize is not None:
            allowed = {"4.5": {"standard"}, "4.0": {"standard", "fast"}, "5.0-lite": {"standard"},
                       "5.0-pro": {"standard"}}.get(family, set())
            if not isinstance(optimize, dict) or optimize.get("mode") not in allowed:
                raise ArkValidationError("InvalidParameter", f"optimize_prompt_options is not valid for model {model}.")

        output_format = body.get("output_format")
        if output_format is not None:
            if family not in _FIVE:
                raise ArkValidationError("InvalidParameter", f"The parameter output_format is not supported by model {model}.",
                                         param="output_format")
            if output_format not in ("jpeg", "png"):
                raise ArkValidationError("InvalidParameter", "output_format must be jpeg or png.", param="output_format")
        web_search = self._tools(body.get("tools"), family, model)
        if len(images) > _MAX_REFS.get(family, 14):
            raise ArkValidationError("InvalidParameter.UnsupportedImageCount",
                                     f"At most {_MAX_REFS[family]} input images are supported.", param="image")
        width, height = self._size(body.get("size"), family, model)
        return _Plan(family=family, count=count, width=width, height=height,
                     b64=body.get("response_format") == "b64_json", stream=bool(stream), group=group,
                     output_format=output_format, web_search=web_search, input_images=len(images),
                     layers=bool(layers))

    @staticmethod
    def _tools(value: Any, family: str, model: str) -> bool:
        if value is None:
            return False
        if family not in _WEB_SEARCH:
            raise ArkValidationError("InvalidParameter", f"The parameter tools is not supported by model {model}.", param="tools")
        if not isinstance(value, list) or not all(isinstance(t, dict) and set(t) == {"type"} for t in value):
            raise ArkValidationError("InvalidParameter", "tools must be an array of {\"type\": ...} objects.", param="tools")
        kinds = [t["type"] for t in value]
        if any(kind != "web_search" for kind in kinds) or len(kinds) != len(set(kinds)):
            raise ArkValidationError("InvalidParameter", f"Unsupported tools {kinds}; only web_search.", param="tools")
        return bool(kinds)

    @staticmethod
    def _images(value: Any, family: str) -> list[str]:
        if value is None:
            images: list[Any] = []
        elif isinstance(value, str):
            images = [value]
        elif isinstance(value, list):
            images = value
        else:
            raise ArkValidationError("InvalidParameter", "image must be a string or an array of strings.", param="image")
        if family == "3.0" and images:
            raise ArkValidationError("InvalidParameter", "The model does not accept input images.", param="image")
        if family == "seededit" and len(images) != 1:
            raise ArkValidationError("InvalidParameter.UnsupportedImageCount", "The model needs exactly one input image.", param="image")
        if len(images) > 14:
            raise ArkValidationError("InvalidParameter.UnsupportedImageCount", "At most 14 input images are supported.", param="image")
        for item in images:
            if not isinstance(item, str):
                raise ArkValidationError("InvalidParameter", "image items must be strings.", param="image")
            if item.startswith(("http://", "https://")):
                continue
            head, sep, data = item.partition(",")
            fmt = head.removeprefix("data:image/").removesuffix(";base64")
            if not sep or not head.startswith("data:image/") or not head.endswith(";base64") or fmt not in _IMAGE_FORMATS:
                raise ArkValidationError("InvalidParameter.UnsupportedImageFormat", "image must be a URL or data:image/<fmt>;base64,<data>.", param="image")
            try:
                base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ArkValidationError("InvalidParameter", "image data is not valid base64.", param="image") from exc
        return images

    @staticmethod
    def _size(value: Any, family: str, model: str) -> tuple[int, int]:
        if value is None:
            return {"3.0": (1024, 1024), "seededit": (1024, 1024)}.get(family, (2048, 2048))
        if not isinstance(value, str):
            raise ArkValidationError("InvalidParameter", "size must be a string.", param="size")
        if family == "seededit":
            if value != "adaptive":
                raise ArkValidationError("InvalidParameter", f"Model {model} only supports size adaptive.", param="size")
            return 1024, 1024
        if value.upper() in _NAMED:
            if value.upper() not in _NAMED_BY_FAMILY.get(family, set()):
                raise ArkValidationError("InvalidParameter", f"Size {value} is not supported by model {model}.", param="size")
            side = _NAMED[value.upper()]
            return side, side
        parsed = parse_wxh(value)
        if parsed is None:
            raise ArkValidationError("InvalidParameter", f"The size {value} is not valid.", param="size")
        width, height = parsed
        if family == "3.0":
            if not (512 <= width <= 2048 and 512 <= height <= 2048):
                raise ArkValidationError("InvalidParameter", "Width and height must be in [512, 2048].", param="size")
            return width, height
        low, high = _PIXELS_BY_FAMILY[family]
        if not low <= width * height <= high or not 1 / 16 <= width / height <= 16:
            raise ArkValidationError("InvalidParameter", f"The size {value} is out of the range of model {model}.", param="size")
        return width, height

    # -- output ------------------------------------------------------------------------------------
    def _image_item(self, plan: _Plan, url_fault: str | None) -> dict[str, Any]:
        png = plan.output_format == "png"
        data = png_bytes(*fit_size(plan.width, plan.height, self.max_image_side)) if png else self.render(plan.width, plan.height)
        item: dict[str, Any] = {"size": f"{plan.width}x{plan.height}"}
        if plan.family in _FIVE:
            item["output_format"] = plan.output_format or "jpeg"
        if plan.b64:
            item["b64_json"] = base64.b64encode(data).decode("ascii")
        else:
            # Sniffed unless PNG was asked: the photo fixtures (--photo-format) may be PNG too.
            item["url"] = self.add_file(data, content_type="image/png" if png else None, fault=url_fault)
        return item

    @staticmethod
    def _usage(plan: _Plan, generated: int, searches: int | None) -> dict[str, Any]:
        usage: dict[str, Any] = {"generated_images": generated, "output_tokens": generated * 16384,
                                 "total_tokens": generated * 16384}
        if plan.family in _FIVE:
            usage["input_images"] = plan.input_images
        if plan.web_search:
            usage["tool_usage"] = {"web_search": max(generated, 1) if searches is None else searches}
        return usage

    def _response(self, body: dict[str, Any], plan: _Plan, failed: set[int], url_fault: str | None,
                  searches: int | None = None) -> dict[str, Any]:
        data = []
        for index in range(plan.count):
            if index in failed:
                data.append({"error": {"code": "OutputImageSensitiveContentDetected",
                                       "message": "The output image may contain sensitive information."}})
            else:
                data.append(self._image_item(plan, url_fault))
        generated = plan.count - len(failed & set(range(plan.count)))
        return {
            "model": body["model"],
            "created": int(time.time()),
            "data": data,
            "usage": self._usage(plan, generated, searches),
        }

    async def _layered(self, request: web.Request, body: dict[str, Any], plan: _Plan, faults: set[str],
                       url_fault: str | None) -> web.StreamResponse:
        """One layered image: the base, then its transparent layers (JSON, or frames when streamed)."""
        plan.output_format = plan.output_format or "png"
        base = self._image_item(plan, url_fault)
        base_width, base_height = fit_size(plan.width, plan.height, self.max_image_side)
        items = layer_items(base_width, base_height, self.layer_count, faults=faults, b64=plan.b64, add_file=self.add_file)
        if "layers-nobase" not in faults:
            items.insert(0, base)
        usage = self._usage(plan, 1, None)
        if not plan.stream:
            payload = {"model": body["model"], "created": int(time.time()), "data": items, "usage": usage}
            return web.Response(body=json.dumps(payload).encode(), content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        writer = SSEWriter(response, pretty=self.sse_pretty, crlf=self.sse_crlf)
        for index, item in enumerate(items):
            frame = {"model": body["model"], "created": int(time.time()), "image_index": index}
            if "layer-failed" in faults and index == len(items) - 1:
                await writer.send("image_generation.partial_failed", frame | {
                    "type": "image_generation.partial_failed",
                    "error": {"code": "OutputImageSensitiveContentDetected",
                              "message": "The output image may contain sensitive information."}})
                continue
            await writer.send("image_generation.partial_succeeded", frame | {"type": "image_generation.partial_succeeded"} | item)
        await writer.send("image_generation.completed", {
            "type": "image_generation.completed", "model": body["model"], "created": int(time.time()), "usage": usage,
        })
        await writer.send(None, "[DONE]")
        await response.write_eof()
        return response

    async def _stream(self, request: web.Request, body: dict[str, Any], plan: _Plan, failed: set[int],
                      url_fault: str | None, *, truncated: bool, searches: int | None = None) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        writer = SSEWriter(response, pretty=self.sse_pretty, crlf=self.sse_crlf)
        generated = 0
        for index in range(plan.count):
            if index and self.frame_delay:
                await self.stall(self.frame_delay)
            base = {"model": body["model"], "created": int(time.time()), "image_index": index}
            if index in failed:
                event = "image_generation.partial_failed"
                frame = base | {"type": event, "error": {
                    "code": "OutputImageSensitiveContentDetected",
                    "message": "The output image may contain sensitive information."}}
            else:
                event = "image_generation.partial_succeeded"
                frame = base | {"type": event} | self._image_item(plan, url_fault)
                generated += 1
            if truncated and index == 1:
                encoded = writer.encode(event, frame)
                await response.write(encoded[: len(encoded) // 2])
                if request.transport is not None:
                    request.transport.close()
                return response
            await writer.send(event, frame)
            if event == "image_generation.partial_succeeded":
                self.stats.frame_times.append(time.time())
        await writer.send("image_generation.completed", {
            "type": "image_generation.completed", "model": body["model"], "created": int(time.time()),
            "usage": self._usage(plan, generated, searches),
        })
        await writer.send(None, "[DONE]")
        await response.write_eof()
        return response


def main(argv: list[str] | None = None) -> None:
    parser = common_arguments("Fake Ark Images API")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--extra-model", action="append", default=[], help="accept another model / endpoint id")
    parser.add_argument("--frame-delay", type=float, default=0.0, help="seconds between the frames of a streamed group")
    args = parser.parse_args(argv)
    server = FakeArkServer(
        api_key=args.api_key,
        extra_models=args.extra_model,
        host=args.host,
        port=args.port,
        latency_ms=args.latency_ms,
        max_image_side=args.max_image_side or None,
        photo_format=args.photo_format,
        timeout_seconds=args.timeout_seconds,
        concurrency_limit=args.concurrency_limit,
    )
    server.frame_delay = args.frame_delay
    run_until_signal(server)


if __name__ == "__main__":
    main()
