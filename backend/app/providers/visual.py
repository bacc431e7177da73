"""Visual Intelligence API provider (Jimeng, SeedEdit, General): shared/volcengine-api.md section 2.

Every attempt is signed afresh (signature V4, ``app.providers.signing``): the JSON body is
serialised once, those exact bytes are hashed and sent, and the canonical query string goes on the
wire verbatim. Async models submit a task, checkpoint its id in the job state *before* polling, and
a re-run resumes polling the saved task instead of paying for a new one.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import yarl

from app.core.config import Settings
from app.core.errors import (
    ContentModeration,
    ProviderError,
    UpstreamAuthError,
    UpstreamTaskLost,
    UpstreamTimeout,
)
from app.providers.base import GenerationRequest, ImageResult, JobContext, Provider
from app.providers.catalog.builtin import BUILTIN_MODELS
from app.providers.catalog.lookup import Catalog
from app.providers.catalog.specs import ModelSpec
from app.providers.http_errors import bad_response, transport_error, visual_error
from app.providers.limits import Limits
from app.providers.partial import generate_each
from app.providers.retry import VISUAL_BACKOFF, Retrier
from app.providers.signing import sign_request
from app.providers.transport import Service, exchange_timeout, read_error_body, read_limited
from app.providers.visual_edits import build_edit_body

logger = logging.getLogger(__name__)
T = TypeVar("T")

SERVICE = Service("Visual API", "视觉智能服务")
SIGNING_SERVICE = "cv"
VERSION = "2022-08-31"
CANCEL_VERSION = "2024-06-06"
SYNC_ACTION = "CVProcess"
SUBMIT_ACTION = "CVSync2AsyncSubmitTask"
RESULT_ACTION = "CVSync2AsyncGetResult"
CANCEL_ACTION = "CVCancelTask"
SUCCESS = 10000
OUTPUT_MODERATION_CODE = "50511"
# Polls slow down from the configured interval to this multiple of it.
POLL_BACKOFF_MAX = 2.5
# A task still running, in the words of a Chinese message.
_STATUS_ZH = {"in_queue": "排队中", "generating": "生成中"}

_VISUAL_SPECS = {spec.id: spec for spec in BUILTIN_MODELS if spec.provider == "visual"}


# --------------------------------------------------------------------------------------------
# Request bodies (reference 2.3), shaped by each model's [visual] table in the catalogue


def is_sync(req_key: str, spec: ModelSpec | None = None) -> bool:
    spec = spec or _VISUAL_SPECS.get(req_key)
    return spec is not None and spec.visual is not None and spec.visual.sync


def _level_area(spec: ModelSpec, level: str) -> int | None:
    return dict(spec.sizes.level_pixels).get(level.upper())


def build_body(request: GenerationRequest, *, seed: int | None, spec: ModelSpec | None = None) -> dict[str, Any]:
    """The generation body for ``request.model`` (a req_key). ``seed`` overrides the request's
    seed (a retry after output moderation needs a new one). ``spec`` is the model's entry in the
    running catalogue; the shipped entry when not given."""
    if request.operation is not None:
        return build_edit_body(request, seed=seed)
    spec = spec or _VISUAL_SPECS.get(request.model)
    call = spec.visual if spec is not None else None
    body: dict[str, Any] = {"req_key": call.req_key if call else request.model, "prompt": request.prompt}
    if seed is not None:
        body["seed"] = seed
    if request.references:
        # Raw base64, no data-URI prefix; avoids handing the upstream a URL it must fetch.
        body["binary_data_base64"] = [ref.b64() for ref in request.references]
    if call is None or spec is None:
        return body
    if request.width and request.height:
        body["width"], body["height"] = request.width, request.height
    elif call.size_as_area and request.size:
        area = _level_area(spec, request.size)
        if area is not None:
            body["size"] = area
    if call.strength_param and request.strength is not None:
        body[call.strength_param] = round(request.strength * 100) if call.strength_percent else request.strength
    if call.guidance_param and request.guidance_scale is not None:
        body[call.guidance_param] = request.guidance_scale
    if call.pre_llm:
        body["use_pre_llm"] = request.optimize_prompt is not None
    if call.force_single:
        # One image unless a group was asked for: predictable cost and latency.
        body["force_single"] = not request.is_group
    body.update(dict(call.fixed))
    if call.sync:
        # Base64 in the same answer: no second download, nothing that expires.
        body["return_url"] = False
        body["logo_info"] = _logo_info(request)
    return body


def req_key_of(request: GenerationRequest) -> str:
    """The req_key a request's calls name: an edit's own, else the model's (its id)."""
    return request.edit_req_key or request.model


def _logo_info(request: GenerationRequest) -> dict[str, Any]:
    return {"add_logo": request.watermark}


def result_req_json(request: GenerationRequest) -> str:
    """GetResult's output options: a JSON *string*, as the API wants it."""
    return json.dumps({"return_url": True, "logo_info": _logo_info(request)}, separators=(",", ":"))


def _dump(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def extract_results(data: Any, *, first_index: int, seed: int | None) -> list[ImageResult]:
    """Images of a finished task: base64 when present, else URLs."""
    if not isinstance(data, dict):
        return []
    results: list[ImageResult] = []
    encoded = data.get("binary_data_base64")
    if isinstance(encoded, list) and encoded:
        for offset, item in enumerate(encoded):
            if not isinstance(item, str):
                continue
            try:
                raw = base64.b64decode(item, validate=True)
            except (binascii.Error, ValueError):
                continue
            results.append(ImageResult(index=first_index + offset, data=raw, seed=seed))
        return results
    urls = data.get("image_urls")
    if isinstance(urls, list):
        for offset, url in enumerate(urls):
            if isinstance(url, str) and url:
                results.append(ImageResult(index=first_index + offset, url=url, seed=seed))
    return results


def _new_seed(previous: int | None) -> int:
    while True:
        seed = random.randint(0, 2_147_483_647)
        if seed != previous:
            return seed


def _code(payload: dict[str, Any]) -> int | None:
    try:
        return int(payload.get("code"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------------------------
# Provider


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    payload: dict[str, Any] | None
    body: bytes


class VisualProvider(Provider):
    name = "visual"

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
        self._retry = Retrier.from_settings(settings, VISUAL_BACKOFF)
        self._limits = limits or Limits.from_settings(settings)
        self._session = session
        base = yarl.URL(settings.visual_base_url)
        self._scheme = base.scheme
        self._host = base.host_port_subcomponent or ""
        self._path = base.path if base.path not in ("", "/") else "/"
        self._timeout = exchange_timeout(settings)

    def _spec(self, model: str) -> ModelSpec | None:
        if self._catalog is not None:
            found = next((spec for spec in self._catalog.all() if spec.id == model), None)
            if found is not None:
                return found
        return _VISUAL_SPECS.get(model)

    # -- transport ---------------------------------------------------------------------------------
    def _credentials(self) -> tuple[str, str]:
        ak, sk = self._settings.volcengine_access_key, self._settings.volcengine_secret_key
        if ak is None or sk is None:
            raise UpstreamAuthError(
                "The Visual API is not configured: set VOLCENGINE_ACCESS_KEY and VOLCENGINE_SECRET_KEY.",
                message_zh="视觉智能服务尚未配置：请设置 VOLCENGINE_ACCESS_KEY 和 VOLCENGINE_SECRET_KEY。",
            )
        return ak.get_secret_value(), sk.get_secret_value()

    async def _post(self, action: str, version: str, body: bytes, *, billed: bool) -> _Answer:
        """One signed exchange. The signature is made here, so every retry gets a fresh X-Date."""
        ak, sk = self._credentials()
        signed = sign_request(
            method="POST",
            host=self._host,
            path=self._path,
            query=[("Action", action), ("Version", version)],
            headers={"Content-Type": "application/json"},
            body=body,
            access_key=ak,
            secret_key=sk,
            region=self._settings.volcengine_region,
            service=SIGNING_SERVICE,
        )
        # encoded=True: yarl must not re-quote what was signed.
        url = yarl.URL(f"{self._scheme}://{self._host}{self._path}?{signed.query_string}", encoded=True)
        started = time.monotonic()
        try:
            async with self._session.post(url, data=body, headers=signed.headers, timeout=self._timeout) as response:
                status = response.status
                if status == 200:
                    # Sync models answer with the images as base64: bounded, not unbounded.
                    raw = await read_limited(response, self._settings.upstream_max_response_bytes, service=SERVICE)
                else:
                    raw = await read_error_body(response)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise transport_error(exc, service=SERVICE, billed=billed) from exc
        try:
            parsed = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            parsed = None
        payload = parsed if isinstance(parsed, dict) else None
        logger.info(
            "visual.response",
            extra={"action": action, "status": status, "code": payload.get("code") if payload else None,
                   "elapsed": round(time.monotonic() - started, 3)},
        )
        return _Answer(status, payload, raw)

    def _raise_unless_ok(self, answer: _Answer, *, billed: bool) -> dict[str, Any]:
        """The payload of a successful answer; otherwise the mapped error."""
        payload = answer.payload
        secrets = self._credentials()
        if payload is None:
            if answer.status == 200:
                raise bad_response(SERVICE, "not JSON", "不是 JSON", billed=billed)
            raise visual_error(answer.status, None, answer.body, secrets=secrets)
        metadata = payload.get("ResponseMetadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("Error"), dict):
            raise visual_error(answer.status, payload, answer.body, secrets=secrets)
        if _code(payload) != SUCCESS or answer.status != 200:
            raise visual_error(answer.status, payload, answer.body, secrets=secrets)
        return payload

    async def _retrying(self, fn: Callable[[int], Awaitable[T]]) -> T:
        return await self._retry.run(fn)

    async def _call(
        self, action: str, body: bytes, *, billed: bool, version: str = VERSION, model: str | None = None
    ) -> dict[str, Any]:
        """One call with retries; a generation call (``model`` given) takes a place in that model's
        adaptive limit, where 50429 / 50430 answers teach it the account's limit."""

        async def attempt(number: int) -> dict[str, Any]:
            logger.info("visual.request", extra={"action": action, "attempt": number})
            answer = await self._post(action, version, body, billed=billed)
            return self._raise_unless_ok(answer, billed=billed)

        limiter = self._limits.get(self.name, model) if model else None
        return await self._retry.run(attempt, limiter=limiter)

    # -- generate ----------------------------------------------------------------------------------
    async def generate(self, request: GenerationRequest, ctx: JobContext) -> None:
        ctx.check_cancelled()
        self._credentials()
        if request.is_group:
            # One task returns the whole group (Jimeng 4.0, force_single false).
            await self._run_index(request, ctx, 0, group=True)
            return

        async def one(index: int) -> None:
            await self._run_index(request, ctx, index, group=False)

        # The first, then all the others at once: the model's adaptive limit (app.providers.limits)
        # holds back what the account cannot take and learns from its 50429 / 50430 answers how
        # much that is; the first alone keeps a full store or refused keys to one paid call.
        await generate_each(ctx, request.num_images, one, concurrent=True, first_alone=True)

    async def _run_index(self, request: GenerationRequest, ctx: JobContext, index: int, *, group: bool) -> None:
        seed = self._saved_seed(ctx, index, request.seed)
        for try_number in (1, 2):
            try:
                # Every edit req_key is async.
                if request.operation is None and is_sync(request.model, self._spec(request.model)):
                    results = await self._process(request, index, seed)
                else:
                    results = await self._submit_and_poll(request, ctx, index, seed)
            except ContentModeration as error:
                # Output moderation (50511) may pass with another seed: one more go, then give up.
                if error.upstream_code != OUTPUT_MODERATION_CODE or try_number == 2:
                    raise
                seed = _new_seed(seed)
                logger.info("visual.moderation_retry", extra={"req_key": request.model, "index": index})
                await self._forget_task(ctx, index)
                continue
            if not results:
                raise bad_response(SERVICE, "a finished task without images", "任务已完成却没有图片")
            # Never keep more images than were asked for: the rest were not ordered.
            asked = (request.group_max_images or 1) if group else 1
            if len(results) > asked:
                logger.warning("visual.extra_images", extra={"req_key": request.model, "asked": asked,
                                                             "sent": len(results)})
                results = results[:asked]
            if group:
                await ctx.set_expected(len(results))
            for result in results:
                if not ctx.is_done(result.index):
                    await ctx.deliver(result)
            return

    async def _process(self, request: GenerationRequest, index: int, seed: int | None) -> list[ImageResult]:
        body = _dump(build_body(request, seed=seed, spec=self._spec(request.model)))
        payload = await self._call(SYNC_ACTION, body, billed=True, model=request.model)
        return extract_results(payload.get("data"), first_index=index, seed=seed)

    async def _submit_and_poll(
        self, request: GenerationRequest, ctx: JobContext, index: int, seed: int | None
    ) -> list[ImageResult]:
        task_id = self._saved_task(ctx.state, index)
        if task_id is None:
            body = _dump(build_body(request, seed=seed, spec=self._spec(request.model)))
            payload = await self._call(SUBMIT_ACTION, body, billed=True, model=request.model)
            data = payload.get("data")
            task_id = data.get("task_id") if isinstance(data, dict) else None
            if isinstance(task_id, bool) or not isinstance(task_id, (str, int)) or task_id == "":
                raise bad_response(SERVICE, "a submit answer without task_id", "提交任务的响应中没有 task_id")
            task_id = str(task_id)
            # Checkpoint before polling: a crash from here on resumes this task, never pays twice.
            await self._remember_task(ctx, index, task_id, seed)
            logger.info("visual.submitted", extra={"req_key": request.model, "index": index, "task_id": task_id})
        else:
            logger.info("visual.resumed", extra={"req_key": request.model, "index": index, "task_id": task_id})
        data = await self._poll(request, ctx, task_id)
        return extract_results(data, first_index=index, seed=seed)

    async def _poll(self, request: GenerationRequest, ctx: JobContext, task_id: str) -> dict[str, Any]:
        body = _dump({"req_key": req_key_of(request), "task_id": task_id, "req_json": result_req_json(request)})
        interval = self._settings.visual_poll_interval
        deadline = time.monotonic() + self._settings.visual_poll_deadline
        polls = 0
        while True:
            ctx.check_cancelled()

            async def attempt(number: int) -> _Answer:
                return await self._post(RESULT_ACTION, VERSION, body, billed=False)

            answer = await self._retrying(self._checked_poll(attempt))
            polls += 1
            data = answer.payload.get("data") if answer.payload else None
            status = data.get("status") if isinstance(data, dict) else None
            if status == "done":
                return data  # type: ignore[return-value]
            if status != ctx.state.get("upstream_status"):
                # Shown on the job's card ("queued upstream" / "generating"): saved on change only.
                await ctx.save_state(upstream_status=status)
            if time.monotonic() >= deadline:
                seconds = f"{self._settings.visual_poll_deadline:.0f}"
                status_zh = _STATUS_ZH.get(str(status), str(status))
                raise UpstreamTimeout(
                    f"The Visual API task did not finish within {seconds} s (last status: {status}). "
                    "Retry the job later.",
                    message_zh=f"视觉智能服务的任务在 {seconds} 秒内没有完成（最后状态：{status_zh}）。请稍后重试此任务。",
                    upstream_code=str(status) if status else None,
                )
            await asyncio.sleep(min(interval * (1.25 ** (polls - 1)), interval * POLL_BACKOFF_MAX))

    def _checked_poll(self, attempt: Callable[[int], Awaitable[_Answer]]) -> Callable[[int], Awaitable[_Answer]]:
        """Wrap one GetResult exchange: lost tasks and failed ``done`` answers become errors."""

        async def checked(number: int) -> _Answer:
            answer = await attempt(number)
            payload = answer.payload
            data = payload.get("data") if payload else None
            status = data.get("status") if isinstance(data, dict) else None
            if status in ("not_found", "expired"):
                raise UpstreamTaskLost(
                    "The Visual API no longer knows this task (it expired or was never stored; tasks are "
                    "kept about 12 hours). Retry the job to generate again.",
                    message_zh="视觉智能服务已找不到这个任务（已过期或从未保存；任务约保留 12 小时）。请重试以重新生成。",
                    upstream_code=status,
                    status=answer.status,
                )
            self._raise_unless_ok(answer, billed=False)
            if status not in ("in_queue", "generating", "done"):
                raise bad_response(SERVICE, f"unknown task status {status!r}", f"未知的任务状态 {status!r}")
            return answer

        return checked

    # -- state -------------------------------------------------------------------------------------
    @staticmethod
    def _saved_task(state: dict[str, Any], index: int) -> str | None:
        tasks = state.get("tasks")
        if isinstance(tasks, dict) and tasks.get(str(index)):
            return str(tasks[str(index)])
        if index == 0 and state.get("upstream_task_id") and not isinstance(tasks, dict):
            return str(state["upstream_task_id"])
        return None

    @staticmethod
    def _saved_seed(ctx: JobContext, index: int, default: int | None) -> int | None:
        seeds = ctx.state.get("seeds")
        if isinstance(seeds, dict) and isinstance(seeds.get(str(index)), int):
            return int(seeds[str(index)])
        return default

    @staticmethod
    async def _remember_task(ctx: JobContext, index: int, task_id: str, seed: int | None) -> None:
        tasks = dict(ctx.state.get("tasks") or {})
        tasks[str(index)] = task_id
        values: dict[str, Any] = {"tasks": tasks}
        if seed is not None:
            values["seeds"] = dict(ctx.state.get("seeds") or {}) | {str(index): seed}
        if index == 0:
            values["upstream_task_id"] = task_id
        await ctx.save_state(**values)

    @staticmethod
    async def _forget_task(ctx: JobContext, index: int) -> None:
        tasks = dict(ctx.state.get("tasks") or {})
        if tasks.pop(str(index), None) is None and index != 0:
            return
        values: dict[str, Any] = {"tasks": tasks}
        if index == 0:
            values["upstream_task_id"] = None
        await ctx.save_state(**values)

    # -- cancel ------------------------------------------------------------------------------------
    async def cancel(self, request: GenerationRequest, state: dict[str, Any]) -> None:
        for task_id in _task_ids(state):
            body = _dump({"req_key": req_key_of(request), "task_id": task_id})
            try:
                answer = await self._post(CANCEL_ACTION, CANCEL_VERSION, body, billed=False)
                self._raise_unless_ok(answer, billed=False)
            except ProviderError as error:
                # Best effort: the task may already be finished or gone.
                logger.info("visual.cancel_failed", extra={"task_id": task_id, "error_code": error.code,
                                                            "upstream_code": error.upstream_code})
                continue
            logger.info("visual.cancelled", extra={"task_id": task_id})


def _task_ids(state: dict[str, Any]) -> list[str]:
    ids: list[str] = []
    tasks = state.get("tasks")
    candidates: Iterable[Any] = list(tasks.values()) if isinstance(tasks, dict) else []
    for value in [*candidates, state.get("upstream_task_id")]:
        if value and str(value) not in ids:
            ids.append(str(value))
    return ids
