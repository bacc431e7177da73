"""Ark Images API provider (Seedream 4.x / 3.0, SeedEdit 3.0): shared/volcengine-api.md section 1.

Plain aiohttp rather than the Ark SDK: the SDK aborts a group stream on the first
``partial_failed`` frame (losing the remaining images and the usage) and its retries ignore
Retry-After; httpx measured about 3x slower than aiohttp at high concurrency (DESIGN.md 3).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp

from app.core.config import Settings
from app.core.errors import ProviderError, StorageError, UpstreamAuthError
from app.providers.base import GenerationRequest, ImageResult, JobContext, Provider
from app.providers.catalog.builtin import BUILTIN_MODELS
from app.providers.catalog.lookup import Catalog
from app.providers.catalog.specs import ModelSpec
from app.providers.http_errors import (
    ark_error,
    ark_error_from_object,
    bad_response,
    transport_error,
)
from app.providers.layers import parse_layered
from app.providers.limits import Limits
from app.providers.partial import generate_each
from app.providers.retry import ARK_BACKOFF, Retrier, should_retry
from app.providers.sse import SSEEventTooLarge, iter_sse
from app.providers.transport import Service, exchange_timeout, read_error_body, read_limited

logger = logging.getLogger(__name__)
T = TypeVar("T")

_IMAGE_FRAMES = ("image_generation.partial_succeeded", "image_generation.partial_failed")
# URL answers for up to 15 images fit in a few KB; b64_json would still fit 15 2K JPEGs.
MAX_ARK_JSON_BYTES = 64 * 1024 * 1024

SERVICE = Service("Ark", "方舟")

_ARK_SPECS = {spec.id: spec for spec in BUILTIN_MODELS if spec.provider == "ark"}


# --------------------------------------------------------------------------------------------
# Request bodies


@dataclass(frozen=True, slots=True)
class ArkShape:
    """What the wire body of a model looks like (from the catalogue)."""

    single_image: bool  # SeedEdit takes `image` as one string
    sequential: bool  # 4.x: takes sequential_image_generation (and stream)
    default_size: str | None  # sent when the request names none ("adaptive" for SeedEdit)
    streams: bool = False  # takes "stream": true outside groups (a layered answer as frames)


def ark_shape(model: str, spec: ModelSpec | None = None) -> ArkShape:
    spec = spec or _ARK_SPECS.get(model)
    if spec is None:
        # ARK_EXTRA_MODELS entries / endpoint ids: the catalogue treats them like Seedream 4.0.
        return ArkShape(single_image=False, sequential=True, default_size=None)
    return ArkShape(
        single_image=spec.refs.max_count == 1,
        sequential=spec.group is not None,
        default_size="adaptive" if spec.sizes.default == "adaptive" else None,
        streams=spec.streaming,
    )


def build_body(request: GenerationRequest, *, stream: bool = False, spec: ModelSpec | None = None) -> dict[str, Any]:
    """The JSON body for one call. ``request`` was validated against the model already, so
    optional fields are sent exactly when the request carries them. ``spec`` is the model's entry
    in the running catalogue (a MODELS_FILE model is not among the shipped ones)."""
    shape = ark_shape(request.model, spec)
    body: dict[str, Any] = {"model": request.model, "prompt": request.prompt}
    if request.size:
        body["size"] = request.size
    elif request.width and request.height:
        body["size"] = f"{request.width}x{request.height}"
    elif shape.default_size:
        body["size"] = shape.default_size
    if request.references:
        uris = [ref.data_uri() for ref in request.references]
        body["image"] = uris[0] if shape.single_image else uris
    if request.seed is not None:
        body["seed"] = request.seed
    if request.guidance_scale is not None:
        body["guidance_scale"] = request.guidance_scale
    # Upstream default is true (a visible "AI生成" mark): always say what we want.
    body["watermark"] = request.watermark
    body["response_format"] = "url"
    if request.optimize_prompt:
        body["optimize_prompt_options"] = {"mode": request.optimize_prompt}
    # 5.x only: the catalogue lets these through only for models that take them.
    if request.output_format:
        body["output_format"] = request.output_format
    if request.web_search:
        body["tools"] = [{"type": "web_search"}]
    if request.layer_decomposition:
        body["layer_decomposition"] = True
        # A layered answer arrives as frames (base, then each layer) when the model streams.
        if shape.streams:
            body["stream"] = stream
    if request.is_group:
        body["sequential_image_generation"] = "auto"
        body["sequential_image_generation_options"] = {"max_images": request.group_max_images}
        body["stream"] = stream
    elif shape.sequential:
        body["sequential_image_generation"] = "disabled"
    return body


# --------------------------------------------------------------------------------------------
# Provider


def _item_result(index: int, item: Mapping[str, Any], seed: int | None) -> ImageResult | None:
    """An image from a ``data`` item or stream frame, or None when it carries none."""
    size = item.get("size") if isinstance(item.get("size"), str) else None
    url = item.get("url")
    if isinstance(url, str) and url:
        return ImageResult(index=index, url=url, size=size, seed=seed)
    encoded = item.get("b64_json")
    if isinstance(encoded, str) and encoded:
        try:
            return ImageResult(index=index, data=base64.b64decode(encoded, validate=True), size=size, seed=seed)
        except (binascii.Error, ValueError):
            return None
    return None


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _generated_images(usage: Any) -> int:
    """``usage.generated_images`` when the answer carries it (what Ark bills), else 0."""
    return _count(usage.get("generated_images")) if isinstance(usage, Mapping) else 0


def _web_searches(usage: Any) -> int:
    """``usage.tool_usage.web_search``: searches the web-search tool ran (billed on their own)."""
    tools = usage.get("tool_usage") if isinstance(usage, Mapping) else None
    return _count(tools.get("web_search")) if isinstance(tools, Mapping) else 0


def _record_usage(ctx: JobContext, usage: Any) -> None:
    ctx.add_billed(_generated_images(usage))
    ctx.add_web_searches(_web_searches(usage))


def _payload(raw: bytes) -> dict[str, Any]:
    """A JSON answer holding a ``data`` list, else the (billed) unusable-answer error."""
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        payload = None
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise bad_response(SERVICE, "not the expected JSON", "不是预期的 JSON", billed=True)
    return payload


def _frame(data: str) -> dict[str, Any]:
    try:
        frame = json.loads(data)
    except ValueError:
        frame = None
    if not isinstance(frame, dict):
        raise bad_response(SERVICE, "an unreadable stream frame", "无法解析的流式数据帧", billed=True)
    return frame


def _check_stream_type(response: aiohttp.ClientResponse) -> None:
    if response.content_type != "text/event-stream":
        raise bad_response(
            SERVICE,
            f"unexpected content type {response.content_type}",
            f"意外的内容类型 {response.content_type}",
            billed=True,
        )


class ArkProvider(Provider):
    name = "ark"

    def __init__(
        self,
        settings: Settings,
        session: aiohttp.ClientSession,
        catalog: Catalog | None = None,
        limits: Limits | None = None,
    ) -> None:
        self._settings = settings
        # The running catalogue, for models added by MODELS_FILE; the shipped models otherwise.
        self._catalog = catalog
        self._retry = Retrier.from_settings(settings, ARK_BACKOFF)
        self._limits = limits or Limits.from_settings(settings)
        self._session = session
        self._url = settings.ark_base_url.rstrip("/") + "/images/generations"
        self._timeout = exchange_timeout(settings)
        # Ark answers with URLs (response_format url): a JSON answer is small.
        self._max_json = min(settings.upstream_max_response_bytes, MAX_ARK_JSON_BYTES)

    # -- plumbing ----------------------------------------------------------------------------------
    def _key(self) -> str:
        if self._settings.ark_api_key is None:
            raise UpstreamAuthError(
                "Ark is not configured: set ARK_API_KEY in the server environment.",
                message_zh="方舟尚未配置：请在服务器环境变量中设置 ARK_API_KEY。",
            )
        return self._settings.ark_api_key.get_secret_value()

    def _headers(self, key: str, client_request_id: str, *, stream: bool) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Accept": "text/event-stream" if stream else "application/json",
            # One id per logical call, kept across retries, so upstream logs can be matched.
            "X-Client-Request-Id": client_request_id,
        }

    async def _retrying(
        self,
        fn: Callable[[int], Awaitable[T]],
        *,
        model: str,
        images: int = 1,
        progressed: list[bool] | None = None,
    ) -> T:
        def policy(error: ProviderError, attempt: int, max_attempts: int) -> bool:
            # A stream that already delivered images must not be replayed: it would bill them again.
            if progressed and progressed[0]:
                return False
            return should_retry(error, attempt, max_attempts)

        limiter = self._limits.get(self.name, model)
        return await self._retry.run(fn, policy=policy, limiter=limiter, images=images)

    @asynccontextmanager
    async def _streaming_post(self, body: bytes, key: str, client_request_id: str) -> AsyncIterator[aiohttp.ClientResponse]:
        """A 200 answer to a streamed request (JSON or SSE); transport trouble, also while the
        caller reads it, becomes the provider's errors."""
        try:
            async with self._session.post(
                self._url, data=body, headers=self._headers(key, client_request_id, stream=True),
                timeout=self._timeout,
            ) as response:
                if response.status != 200:
                    raise await self._read_error(response, key)
                yield response
        except SSEEventTooLarge as exc:
            raise bad_response(SERVICE, "an oversized stream event", "流式事件过大", billed=True) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise transport_error(exc, service=SERVICE, billed=True) from exc

    async def _read_error(self, response: aiohttp.ClientResponse, key: str) -> ProviderError:
        body = await read_error_body(response)
        return ark_error(response.status, body, response.headers, secrets=[key])

    def _spec(self, model: str) -> ModelSpec | None:
        if self._catalog is not None:
            return next((s for s in self._catalog.all() if s.id == model), None)
        return None

    def _body(self, request: GenerationRequest, *, stream: bool = False) -> bytes:
        spec = self._spec(request.model)
        return json.dumps(build_body(request, stream=stream, spec=spec), ensure_ascii=False).encode("utf-8")

    # -- generate ----------------------------------------------------------------------------------
    async def generate(self, request: GenerationRequest, ctx: JobContext) -> None:
        ctx.check_cancelled()
        if request.is_group:
            await self._generate_group(request, ctx)
        else:
            await self._generate_independent(request, ctx)

    async def _generate_independent(self, request: GenerationRequest, ctx: JobContext) -> None:
        layered_stream = request.layer_decomposition and ark_shape(request.model, self._spec(request.model)).streams
        body = self._body(request, stream=layered_stream)

        async def one(index: int) -> None:
            if layered_stream:
                await self._one_layered_stream(request, ctx, body, index)
            else:
                await self._one_image(request, ctx, body, index)

        # Ark limits images per minute, not connections: every image of the job at once.
        await generate_each(ctx, request.num_images, one, concurrent=True)

    async def _one_image(self, request: GenerationRequest, ctx: JobContext, body: bytes, index: int) -> None:
        ctx.check_cancelled()
        key = self._key()
        client_request_id = uuid.uuid4().hex

        async def attempt(number: int) -> dict[str, Any]:
            ctx.check_cancelled()
            started = time.monotonic()
            logger.info("ark.request", extra={"model": request.model, "index": index, "attempt": number})
            try:
                async with self._session.post(
                    self._url, data=body, headers=self._headers(key, client_request_id, stream=False),
                    timeout=self._timeout,
                ) as response:
                    if response.status != 200:
                        raise await self._read_error(response, key)
                    raw = await read_limited(response, self._max_json, service=SERVICE)
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise transport_error(exc, service=SERVICE, billed=True) from exc
            logger.info(
                "ark.response",
                extra={"model": request.model, "index": index, "status": 200,
                       "elapsed": round(time.monotonic() - started, 3)},
            )
            return _payload(raw)

        payload = await self._retrying(attempt, model=request.model)
        _record_usage(ctx, payload.get("usage"))
        items = payload["data"]
        if request.layer_decomposition and items:
            await ctx.deliver(parse_layered(index, items, seed=request.seed, service=SERVICE))
            return
        item = items[0] if items and isinstance(items[0], dict) else {}
        result = _item_result(index, item, request.seed)
        if result is None:
            error_obj = item.get("error") if isinstance(item.get("error"), dict) else payload.get("error")
            if isinstance(error_obj, dict):
                raise ark_error_from_object(error_obj, status=None, secrets=[key])
            raise bad_response(SERVICE, "no image in the answer", "响应中没有图片")
        await ctx.deliver(result)

    async def _one_layered_stream(self, request: GenerationRequest, ctx: JobContext, body: bytes, index: int) -> None:
        """One layered image sent as frames (``image_index`` 0 = base, then the layers): gathered
        until the stream ends, then stored as one set (a set missing layers is not the set)."""
        ctx.check_cancelled()
        key = self._key()
        client_request_id = uuid.uuid4().hex
        progressed = [False]

        async def attempt(number: int) -> list[dict[str, Any]]:
            ctx.check_cancelled()
            logger.info("ark.request", extra={"model": request.model, "index": index, "layers": True,
                                              "attempt": number})
            async with self._streaming_post(body, key, client_request_id) as response:
                if response.content_type == "application/json":
                    payload = _payload(await read_limited(response, self._max_json, service=SERVICE))
                    progressed[0] = True
                    _record_usage(ctx, payload.get("usage"))
                    return [item for item in payload["data"] if isinstance(item, dict)]
                _check_stream_type(response)
                return await self._layer_frames(response, ctx, key, progressed)

        frames = await self._retrying(attempt, model=request.model, progressed=progressed)
        await ctx.deliver(parse_layered(index, frames, seed=request.seed, service=SERVICE))

    async def _layer_frames(
        self, response: aiohttp.ClientResponse, ctx: JobContext, key: str, progressed: list[bool]
    ) -> list[dict[str, Any]]:
        frames: dict[int, dict[str, Any]] = {}
        async for event in iter_sse(response.content):
            if event.data.strip() == "[DONE]":
                return [frames[i] for i in sorted(frames)]
            frame = _frame(event.data)
            kind = frame.get("type") or event.event
            progressed[0] = True
            if kind == "image_generation.partial_succeeded":
                position = frame.get("image_index")
                if isinstance(position, bool) or not isinstance(position, int) or position < 0:
                    position = max(frames, default=-1) + 1
                frames[position] = frame
            elif kind == "image_generation.partial_failed":
                # One layer lost is a set that no longer adds up to the image: the set fails.
                error_obj = frame.get("error")
                raise ark_error_from_object(error_obj if isinstance(error_obj, dict) else {}, status=None, secrets=[key])
            elif kind == "image_generation.completed":
                _record_usage(ctx, frame.get("usage"))
            elif isinstance(frame.get("error"), dict):
                raise ark_error_from_object(frame["error"], status=None, secrets=[key])
        raise bad_response(SERVICE, "the stream ended before the layered image was complete", "分层图片尚未全部生成，流就结束了", billed=True)

    # -- groups ------------------------------------------------------------------------------------
    async def _generate_group(self, request: GenerationRequest, ctx: JobContext) -> None:
        assert request.group_max_images is not None
        done = [i for i in range(request.group_max_images) if ctx.is_done(i)]
        if done:
            # A re-run cannot ask for "the rest of the group": a new stream would generate (and
            # bill) a whole new group. Keep what is stored and end there.
            logger.info("ark.group.resume_skipped", extra={"model": request.model, "stored": len(done)})
            await ctx.set_expected(len(done))
            return
        key = self._key()
        body = self._body(request, stream=True)
        client_request_id = uuid.uuid4().hex
        progressed = [False]
        seen: set[int] = set()

        async def attempt(number: int) -> None:
            ctx.check_cancelled()
            logger.info("ark.request", extra={"model": request.model, "group": request.group_max_images,
                                              "attempt": number})
            async with self._streaming_post(body, key, client_request_id) as response:
                if response.content_type == "application/json":
                    # Validation passed but the service answered without streaming.
                    raw = await read_limited(response, self._max_json, service=SERVICE)
                    await self._group_from_json(raw, request, ctx, key, progressed, seen)
                    return
                _check_stream_type(response)
                finished = await self._consume_stream(response, request, ctx, key, progressed, seen)
            if not finished:
                raise bad_response(SERVICE, "the stream ended before the group was complete", "组图尚未全部生成，流就结束了", billed=True)

        await self._retrying(
            attempt, model=request.model, images=request.group_max_images, progressed=progressed
        )
        await ctx.set_expected(len(seen))

    async def _consume_stream(
        self,
        response: aiohttp.ClientResponse,
        request: GenerationRequest,
        ctx: JobContext,
        key: str,
        progressed: list[bool],
        seen: set[int],
    ) -> bool:
        """Deliver each frame as it arrives; True when the stream ended properly."""
        async for event in iter_sse(response.content):
            if event.data.strip() == "[DONE]":
                return True
            frame = _frame(event.data)
            kind = frame.get("type") or event.event
            if kind in _IMAGE_FRAMES and self._beyond_group(frame, seen, request):
                continue
            if kind == "image_generation.partial_succeeded":
                index = self._frame_index(frame, seen)
                progressed[0] = True
                result = _item_result(index, frame, request.seed)
                if result is None:
                    await self._fail(ctx, index, bad_response(SERVICE, "a frame without an image", "数据帧中没有图片"))
                else:
                    await self._deliver(ctx, result)
            elif kind == "image_generation.partial_failed":
                index = self._frame_index(frame, seen)
                progressed[0] = True
                error_obj = frame.get("error")
                error_obj = error_obj if isinstance(error_obj, dict) else {}
                await self._fail(ctx, index, ark_error_from_object(error_obj, status=None, secrets=[key]))
            elif kind == "image_generation.completed":
                usage = frame.get("usage")
                usage = usage if isinstance(usage, dict) else {}
                _record_usage(ctx, usage)
                logger.info("ark.group.completed", extra={"model": request.model, "images": len(seen),
                                                          "generated_images": usage.get("generated_images"),
                                                          "input_images": usage.get("input_images"),
                                                          "web_searches": _web_searches(usage)})
                progressed[0] = True
            elif isinstance(frame.get("error"), dict):
                raise ark_error_from_object(frame["error"], status=None, secrets=[key])
        return False

    async def _group_from_json(
        self,
        raw: bytes,
        request: GenerationRequest,
        ctx: JobContext,
        key: str,
        progressed: list[bool],
        seen: set[int],
    ) -> None:
        payload = _payload(raw)
        progressed[0] = True
        _record_usage(ctx, payload.get("usage"))
        asked = request.group_max_images or 1
        if len(payload["data"]) > asked:
            logger.warning("ark.group.extra_images", extra={"model": request.model, "asked": asked,
                                                            "sent": len(payload["data"])})
        # Never keep more images than were asked for: the rest were not ordered.
        for index, item in enumerate(payload["data"][:asked]):
            seen.add(index)
            item = item if isinstance(item, dict) else {}
            result = _item_result(index, item, request.seed)
            if result is not None:
                await self._deliver(ctx, result)
                continue
            error_obj = item.get("error")
            error = (ark_error_from_object(error_obj, status=None, secrets=[key]) if isinstance(error_obj, dict)
                     else bad_response(SERVICE, "an item without an image", "条目中没有图片"))
            await self._fail(ctx, index, error)

    @classmethod
    def _beyond_group(cls, frame: Mapping[str, Any], seen: set[int], request: GenerationRequest) -> bool:
        """True for an image frame past the group size asked for (not ordered: not kept)."""
        asked = request.group_max_images or 1
        index = frame.get("image_index")
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            index = max(seen, default=-1) + 1
        if index < asked:
            return False
        logger.warning("ark.group.extra_frame", extra={"model": request.model, "asked": asked, "index": index})
        return True

    @staticmethod
    def _frame_index(frame: Mapping[str, Any], seen: set[int]) -> int:
        index = frame.get("image_index")
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            # Should not happen; number such frames after the ones we have.
            index = max(seen, default=-1) + 1
        seen.add(index)
        return index

    @classmethod
    async def _deliver(cls, ctx: JobContext, result: ImageResult) -> None:
        """Store one group image; a download or a write that fails costs that image, not the group
        (the stream is billed whole, so the images after it are still worth keeping)."""
        if ctx.is_done(result.index):
            return
        try:
            await ctx.deliver(result)
        except (ProviderError, StorageError) as error:
            await cls._fail(ctx, result.index, error)

    @staticmethod
    async def _fail(ctx: JobContext, index: int, error: ProviderError | StorageError) -> None:
        if not ctx.is_done(index):
            await ctx.fail_image(index, error)

