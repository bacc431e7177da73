"""A fake Visual Intelligence API (``POST /?Action=...&Version=...``) speaking the wire format of
shared/volcengine-api.md section 2. It verifies the V4 signature of every request by recomputing
it with ``app.providers.signing`` over what actually arrived (method, path, query, headers, body),
and insists the query string on the wire is the canonical one the client signed.

In-process:  ``async with FakeVisualServer(access_key="AK", secret_key="SK") as fake: fake.base_url``
As a process (from backend/):
``python -m tests.fakes.visual --port 18002 --access-key AK --secret-key SK --latency-ms 0``
prints ``READY <base_url>`` when listening.

Prompt markers: ``[fault:auth]``, ``[fault:50429]``, ``[fault:50430]``, ``[fault:500]`` (50500),
``[fault:code=<n>]`` (any service code: moderation 50411/50412/50413 at submit, 50511/50512 when
the task finishes), ``[fault:moderation-input]`` (50412), ``[fault:moderation-output]`` (50511),
``[fault:timeout]``, ``[fault:truncated]``, ``[fault:garbage]``, ``[fault:not_found]``,
``[fault:expired]``, ``[fault:url-403]``, ``[fault:url-404]``, ``[fault:url-html]``,
``[fault:url-drip]``, ``[fault:drip]`` (the JSON answer one byte at a time), ``[fault:huge:mb=N]``,
``[fault:extra:K]`` (K more images than asked, when the task finishes); each takes
``times=N``. Queued faults may name an ``action`` (``CVSync2AsyncGetResult`` ...).

Edits (inpaint / erase, outpaint, upscale req_keys) are validated against their documented wire
format: the inputs are decoded (JPEG / PNG, <= 4.7 MB, <= 4096 px), an inpaint's second image must
be a single-channel mask of the source's size holding only 0 and 255, outpaint edges are ratios
in [0, 1], upscale takes resolution 4k / 8k; results have the size the edit implies. Markers in an
edit's prompt work as above (an upscale has none: queue faults instead).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from PIL import Image

from app.providers.signing import canonical_query, sign_request
from tests.fakes.common import (
    FakeServer,
    Fault,
    b64,
    common_arguments,
    request_id,
    run_until_signal,
)

SYNC_KEYS = {"high_aes_general_v30l_zt2i", "high_aes_general_v21_L"}
ASYNC_KEYS = {
    "jimeng_t2i_v40", "jimeng_t2i_v31", "jimeng_t2i_v30", "jimeng_i2i_v30", "seededit_v3.0",
    "high_aes_general_v30l_zt2i", "jimeng_high_aes_general_v21_L", "jimeng_seedream46_cvtob",
}
# Edit req_keys (all async): inpaint / erase (docs 85621/1976207), outpaint and upscale (reported).
INPAINT_KEY = "jimeng_image2image_dream_inpaint"
OUTPAINT_KEY = "jimeng_img2img_seed3_painting_edit"
UPSCALE_KEY = "jimeng_i2i_seed3_tilesr_cvtob"
EDIT_KEYS = {INPAINT_KEY, OUTPAINT_KEY, UPSCALE_KEY}
# Input limits of the edit req_keys: JPEG / PNG, at most 4.7 MB and 4096 px per side.
EDIT_MAX_BYTES = int(4.7 * 1024 * 1024)
EDIT_MAX_SIDE = 4096
UPSCALE_LONG_SIDE = {"4k": 4096, "8k": 8192}
ACTIONS = {
    ("CVProcess", "2022-08-31"),
    ("CVSync2AsyncSubmitTask", "2022-08-31"),
    ("CVSync2AsyncGetResult", "2022-08-31"),
    ("CVCancelTask", "2024-06-06"),
}
# How many reference images each req_key takes: (min, max).
_REFS = {"jimeng_t2i_v40": (0, 10), "jimeng_i2i_v30": (1, 1), "seededit_v3.0": (1, 1), "jimeng_seedream46_cvtob": (0, 14)}
# Take ``size`` as a pixel area (or width + height) and make groups unless ``force_single``.
_AREA_KEYS = {"jimeng_t2i_v40", "jimeng_seedream46_cvtob"}
# ``scale`` per req_key: (min, max, integer only). Jimeng 4.6 takes a percentage (reported).
_SCALES = {
    "jimeng_t2i_v40": (0, 1, False), "jimeng_i2i_v30": (0, 1, False), "seededit_v3.0": (0, 1, False),
    "jimeng_seedream46_cvtob": (1, 100, True), "high_aes_general_v30l_zt2i": (1, 10, False),
    "high_aes_general_v21_L": (1, 10, False),
}
_MESSAGES = {
    50411: "Pre Img Risk Not Pass", 50412: "Text Risk Not Pass", 50413: "Post Text Risk Not Pass",
    50511: "Post Img Risk Not Pass", 50512: "Post Text Risk Not Pass",
    50429: "Request Has Reached API Limit, Please Try Later",
    50430: "Request Has Reached API Concurrent Limit, Please Try Later",
    50500: "Internal Error", 50501: "Internal RPC Error",
    50200: "ECReqInvalidArgs", 50201: "ECReqMissingArgs", 50204: "ECParseArgs", 50205: "ECImageSizeLimited",
}
OUTPUT_CODES = {50511, 50512}
_AUTH_RE = re.compile(
    r"^HMAC-SHA256 Credential=(?P<ak>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})$"
)


def status_for(code: int) -> int:
    if code == 10000:
        return 200
    if code in (50429, 50430):
        return 429
    if 50500 <= code < 50510:
        return 500
    return 400


class VisualFault(Exception):
    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message or _MESSAGES.get(code, "Error")


@dataclass
class Task:
    task_id: str
    req_key: str
    body: dict[str, Any]
    prompt: str
    pending_polls: int
    markers: list[Fault] = field(default_factory=list)
    cancelled: bool = False
    polls: int = 0


class FakeVisualServer(FakeServer):
    service = "visual"

    def __init__(self, *, access_key: str, secret_key: str, region: str = "cn-north-1", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.check_clock = True
        # Polls answered in_queue / generating before a task is done.
        self.pending_polls = 2
        # Images produced by a Jimeng 4.0 group (force_single false) when the prompt names no count.
        self.group_images = 3
        self.tasks: dict[str, Task] = {}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._handle)

    def action_of(self, request: web.Request) -> str:
        return request.query.get("Action", request.path)

    def reset(self) -> None:
        super().reset()
        self.tasks.clear()

    def limits(self, action: str) -> bool:
        # The account's concurrency limit is on generation calls; polls are not counted.
        return action != "CVSync2AsyncGetResult"

    def throttle_response(self, request: web.Request) -> web.Response:
        return self.envelope(50430, _MESSAGES[50430])

    # -- envelopes ---------------------------------------------------------------------------------
    @staticmethod
    def gateway_error(request: web.Request, code: str, message: str, status: int) -> web.Response:
        return web.json_response(
            {"ResponseMetadata": {"RequestId": request_id(), "Action": request.query.get("Action", ""),
                                  "Version": request.query.get("Version", ""), "Service": "cv",
                                  "Region": "cn-north-1", "Error": {"Code": code, "Message": message}}},
            status=status,
        )

    @staticmethod
    def envelope(code: int, message: str, data: Any = None) -> web.Response:
        return web.json_response(
            {"code": code, "status": code, "message": message, "request_id": request_id(),
             "time_elapsed": "12.5ms", "data": data},
            status=status_for(code),
        )

    # -- signature ---------------------------------------------------------------------------------
    def verify_signature(self, request: web.Request, body: bytes) -> web.Response | None:
        auth = request.headers.get("Authorization")
        if not auth:
            return self.gateway_error(request, "MissingAuthenticationToken", "Request is missing Authentication Token", 401)
        match = _AUTH_RE.match(auth)
        if match is None:
            return self.gateway_error(request, "SignatureDoesNotMatch", "The Authorization header is malformed.", 401)
        if match["ak"] != self.access_key:
            return self.gateway_error(request, "InvalidAccessKey", "The access key is invalid.", 401)
        x_date = request.headers.get("X-Date", "")
        if match["region"] != self.region or match["service"] != "cv" or not x_date.startswith(match["date"]):
            return self.gateway_error(request, "SignatureDoesNotMatch", "The credential scope is wrong.", 401)
        if self.check_clock:
            try:
                sent = datetime.strptime(x_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            except ValueError:
                return self.gateway_error(request, "InvalidTimestamp", "X-Date is malformed.", 400)
            if abs((datetime.now(UTC) - sent).total_seconds()) > 900:
                return self.gateway_error(request, "InvalidTimestamp", "X-Date is outside the accepted window.", 400)
        if request.headers.get("X-Content-Sha256") != hashlib.sha256(body).hexdigest():
            return self.gateway_error(request, "SignatureDoesNotMatch", "X-Content-Sha256 does not match the body.", 401)
        raw_query = request.rel_url.raw_query_string
        query = parse_qsl(raw_query, keep_blank_values=True)
        if raw_query != canonical_query(query):
            return self.gateway_error(request, "SignatureDoesNotMatch", "fake: the query string is not canonical.", 401)
        signed_names = match["signed"].split(";")
        headers = {
            name: request.headers[name]
            for name in signed_names
            if name not in ("host", "x-date", "x-content-sha256") and name in request.headers
        }
        expected = sign_request(
            method=request.method, host=request.headers.get("Host", ""), path=request.path, query=query,
            headers=headers, body=body, access_key=match["ak"], secret_key=self.secret_key,
            region=self.region, service="cv", x_date=x_date,
            session_token=request.headers.get("X-Security-Token"),
        )
        if expected.signed_headers != match["signed"] or not hmac.compare_digest(expected.signature, match["signature"]):
            return self.gateway_error(
                request, "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.", 401,
            )
        return None

    # -- handler -----------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        action, version = request.query.get("Action", ""), request.query.get("Version", "")
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self.stats.bodies.append((action, body))
        refused = self.verify_signature(request, raw)
        if refused is not None:
            return refused
        if (action, version) not in ACTIONS:
            return self.gateway_error(request, "InvalidActionOrVersion", f"Could not find operation {action} {version}.", 404)
        if not isinstance(body, dict):
            return self.envelope(50204, "ECParseArgs")

        prompt = body.get("prompt") if action in ("CVProcess", "CVSync2AsyncSubmitTask") else None
        faults = self._faults(action, prompt)
        kinds = {fault.kind: fault for fault in faults}
        if "auth" in kinds:
            return self.gateway_error(request, "InvalidAccessKey", "The access key is invalid.", 401)
        if "timeout" in kinds:
            await self.stall()
            return self.envelope(50500, "Internal Error")
        if "garbage" in kinds:
            return self.garbage()
        if "huge" in kinds:
            return await self.huge(request, kinds["huge"].option_float("mb") or 200)
        try:
            self._early_faults(kinds)
            if action == "CVProcess":
                response = self._process(body, faults)
            elif action == "CVSync2AsyncSubmitTask":
                response = self._submit(body, faults)
            elif action == "CVSync2AsyncGetResult":
                response = self._get_result(body, faults)
            else:
                response = self._cancel(body)
        except VisualFault as fault:
            return self.envelope(fault.code, fault.message)
        if "truncated" in kinds:
            return await self.truncated(request, response.body, "application/json")  # type: ignore[arg-type]
        if "drip" in kinds:
            return await self.dripped(request, response.body, "application/json",  # type: ignore[arg-type]
                                      interval=kinds["drip"].option_float("interval") or self.drip_interval)
        return response

    def _faults(self, action: str, prompt: Any) -> list[Fault]:
        faults = []
        queued = self.faults.take(action)
        if queued is not None:
            faults.append(queued)
        for fault in self.marker_faults(prompt):
            if fault.kind in ("not_found", "expired", "moderation-output", "url-403", "url-404", "url-html") or (
                fault.kind == "code" and self._code(fault) in OUTPUT_CODES
            ):
                continue  # applied when the task finishes
            self.use_marker(fault, prompt)
            faults.append(fault)
        return faults

    @staticmethod
    def _code(fault: Fault) -> int:
        value = fault.options.get("code") or (fault.args[0] if fault.args else "50500")
        return int(value)

    def _early_faults(self, kinds: dict[str, Fault]) -> None:
        for name, code in (("50429", 50429), ("50430", 50430), ("500", 50500), ("50500", 50500),
                           ("50501", 50501), ("moderation-input", 50412)):
            if name in kinds:
                raise VisualFault(code)
        if "code" in kinds and self._code(kinds["code"]) not in OUTPUT_CODES:
            raise VisualFault(self._code(kinds["code"]))

    # -- validation --------------------------------------------------------------------------------
    def _validate_generation(self, body: dict[str, Any], *, sync: bool) -> tuple[int, int, int]:
        """(width, height, image count) of an accepted generation body."""
        req_key = body.get("req_key")
        allowed = SYNC_KEYS if sync else ASYNC_KEYS
        if req_key not in allowed:
            raise VisualFault(50200, f"ECReqInvalidArgs: req_key {req_key} is not supported by this action")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise VisualFault(50201, "ECReqMissingArgs: prompt")
        if len(prompt) > 800 and req_key != "high_aes_general_v21_L":
            raise VisualFault(50200, "ECReqInvalidArgs: prompt too long")
        seed = body.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not -1 <= seed <= 2_147_483_647):
            raise VisualFault(50200, "ECReqInvalidArgs: seed")
        images = self._images(body)
        low, high = _REFS.get(req_key, (0, 0))
        if not low <= len(images) <= high:
            raise VisualFault(50200, f"ECReqInvalidArgs: {req_key} takes {low}-{high} images, got {len(images)}")
        for name in ("return_url", "use_pre_llm", "force_single"):
            if name in body and not isinstance(body[name], bool):
                raise VisualFault(50200, f"ECReqInvalidArgs: {name} must be a bool")
        logo = body.get("logo_info")
        if logo is not None and (not isinstance(logo, dict) or not isinstance(logo.get("add_logo", False), bool)):
            raise VisualFault(50200, "ECReqInvalidArgs: logo_info")
        width, height = body.get("width"), body.get("height")
        if (width is None) != (height is None):
            raise VisualFault(50200, "ECReqInvalidArgs: width and height go together")
        self._check_scale(req_key, body.get("scale"))
        if req_key in _AREA_KEYS:
            if width is not None:
                area = width * height
            else:
                area = body.get("size", 4_194_304)
                if isinstance(area, bool) or not isinstance(area, int):
                    raise VisualFault(50200, "ECReqInvalidArgs: size must be an integer area")
                width = height = int(area ** 0.5)
            if not 1024 * 1024 <= area <= 4096 * 4096:
                raise VisualFault(50200, "ECReqInvalidArgs: size out of range")
        elif width is not None:
            bound = 768 if req_key == "high_aes_general_v21_L" else 2048
            if not (isinstance(width, int) and isinstance(height, int) and 256 <= width <= bound and 256 <= height <= bound):
                raise VisualFault(50200, "ECReqInvalidArgs: width/height out of range")
        else:
            width = height = {"high_aes_general_v21_L": 512}.get(req_key, 1328)
        count = 1
        if req_key in _AREA_KEYS and body.get("force_single") is False:
            named = re.search(r"\b(\d{1,2})\s*(?:images|pictures|张)", prompt)
            count = min(int(named.group(1)) if named else self.group_images, 15 - len(images))
        return int(width), int(height), max(count, 1)

    @staticmethod
    def _check_scale(req_key: str, scale: Any) -> None:
        if scale is None:
            return
        rule = _SCALES.get(req_key)
        if rule is None:
            raise VisualFault(50200, f"ECReqInvalidArgs: {req_key} takes no scale")
        low, high, integer = rule
        if isinstance(scale, bool) or not isinstance(scale, int if integer else (int, float)) or not low <= scale <= high:
            kind = "an integer" if integer else "a number"
            raise VisualFault(50200, f"ECReqInvalidArgs: scale must be {kind} in [{low}, {high}]")

    @staticmethod
    def _images(body: dict[str, Any]) -> list[Any]:
        encoded, urls = body.get("binary_data_base64"), body.get("image_urls")
        if encoded and urls:
            raise VisualFault(50200, "ECReqInvalidArgs: give image_urls or binary_data_base64, not both")
        images = encoded or urls or []
        if not isinstance(images, list):
            raise VisualFault(50200, "ECReqInvalidArgs: images must be a list")
        for item in encoded or []:
            if not isinstance(item, str) or item.startswith("data:"):
                raise VisualFault(50204, "ECParseArgs: binary_data_base64 must be raw base64")
            try:
                base64.b64decode(item, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise VisualFault(50204, "ECParseArgs: bad base64") from exc
        return images

    def _decoded(self, body: dict[str, Any]) -> list[Image.Image]:
        """The edit's input images, decoded and checked against the documented input limits."""
        encoded = body.get("binary_data_base64")
        if body.get("image_urls"):
            raise VisualFault(50200, "ECReqInvalidArgs: this fake takes binary_data_base64 for edits")
        self._images(body)
        images = []
        for item in encoded or []:
            raw = base64.b64decode(item, validate=True)
            if len(raw) > EDIT_MAX_BYTES:
                raise VisualFault(50205, "ECImageSizeLimited: image larger than 4.7 MB")
            try:
                image = Image.open(io.BytesIO(raw))
                image.load()
            except (OSError, ValueError) as exc:
                raise VisualFault(50204, "ECParseArgs: not an image") from exc
            if image.format not in ("JPEG", "PNG"):
                raise VisualFault(50200, f"ECReqInvalidArgs: {image.format} images are not supported")
            if max(image.size) > EDIT_MAX_SIDE:
                raise VisualFault(50205, "ECImageSizeLimited: image larger than 4096 x 4096")
            images.append(image)
        return images

    def _validate_edit(self, body: dict[str, Any]) -> tuple[int, int, int]:
        """(width, height, image count) of an accepted edit body."""
        req_key = body["req_key"]
        images = self._decoded(body)
        prompt, seed = body.get("prompt"), body.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not -1 <= seed <= 2_147_483_647):
            raise VisualFault(50200, "ECReqInvalidArgs: seed")
        if req_key == INPAINT_KEY:
            if len(images) != 2:
                raise VisualFault(50200, f"ECReqInvalidArgs: {req_key} takes 2 images (source, mask), got {len(images)}")
            source, mask = images
            if not isinstance(prompt, str) or not prompt.strip():
                raise VisualFault(50201, "ECReqMissingArgs: prompt")
            if mask.mode != "L":
                raise VisualFault(50200, f"ECReqInvalidArgs: the mask must be single-channel grey, not {mask.mode}")
            if mask.size != source.size:
                raise VisualFault(50200, "ECReqInvalidArgs: the mask must be the size of the source")
            if {level for level, count in enumerate(mask.histogram()) if count} - {0, 255}:
                raise VisualFault(50200, "ECReqInvalidArgs: the mask takes 0 (keep) and 255 (redraw) only")
            return source.width, source.height, 1
        if len(images) != 1:
            raise VisualFault(50200, f"ECReqInvalidArgs: {req_key} takes 1 image, got {len(images)}")
        source = images[0]
        if req_key == OUTPAINT_KEY:
            edges = [body.get(name, 0) for name in ("top", "bottom", "left", "right")]
            for value in edges:
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                    raise VisualFault(50200, "ECReqInvalidArgs: top/bottom/left/right must be ratios in [0, 1]")
            if prompt is not None and not isinstance(prompt, str):
                raise VisualFault(50200, "ECReqInvalidArgs: prompt")
            top, bottom, left, right = edges
            return (round(source.width * left) + source.width + round(source.width * right),
                    round(source.height * top) + source.height + round(source.height * bottom), 1)
        resolution = body.get("resolution", "4k")
        if resolution not in UPSCALE_LONG_SIDE:
            raise VisualFault(50200, "ECReqInvalidArgs: resolution must be 4k or 8k")
        scale = body.get("scale")
        if scale is not None and (isinstance(scale, bool) or not isinstance(scale, int) or not 0 <= scale <= 100):
            raise VisualFault(50200, "ECReqInvalidArgs: scale must be an integer in [0, 100]")
        if prompt is not None or seed is not None:
            raise VisualFault(50200, "ECReqInvalidArgs: upscale takes no prompt or seed")
        factor = UPSCALE_LONG_SIDE[resolution] / max(source.size)
        return round(source.width * factor), round(source.height * factor), 1

    def _validate(self, body: dict[str, Any]) -> tuple[int, int, int]:
        if body.get("req_key") in EDIT_KEYS:
            return self._validate_edit(body)
        return self._validate_generation(body, sync=False)

    # -- actions -----------------------------------------------------------------------------------
    def _output(self, width: int, height: int, count: int, *, as_url: bool, url_fault: str | None) -> dict[str, Any]:
        images = [self.render(width, height) for _ in range(count)]
        if as_url:
            return {"binary_data_base64": [], "image_urls": [self.add_file(data, fault=url_fault) for data in images]}
        return {"binary_data_base64": [b64(data) for data in images], "image_urls": None}

    def _output_faults(self, markers: list[Fault]) -> tuple[int | None, str | None]:
        code = None
        url_fault = None
        for fault in markers:
            if fault.kind == "moderation-output":
                code = 50511
            elif fault.kind == "code" and self._code(fault) in OUTPUT_CODES:
                code = self._code(fault)
            elif fault.kind.startswith("url-"):
                url_fault = fault.kind
        return code, url_fault

    @staticmethod
    def _extra(markers: list[Fault]) -> int:
        """Images beyond those asked for (``[fault:extra:K]``): a misbehaving upstream."""
        extra = [m for m in markers if m.kind == "extra"]
        return max(extra[0].int_args() or {1}) if extra else 0

    def _process(self, body: dict[str, Any], faults: list[Fault]) -> web.Response:
        width, height, count = self._validate_generation(body, sync=True)
        prompt = body["prompt"]
        markers = self._finish_markers(prompt) + faults
        code, url_fault = self._output_faults(markers)
        if code is not None:
            raise VisualFault(code)
        count += self._extra(markers)
        data = self._output(width, height, count, as_url=bool(body.get("return_url")), url_fault=url_fault)
        return self.envelope(10000, "Success", data | {"algorithm_base_resp": {"status_code": 0, "status_message": "Success"}})

    def _finish_markers(self, prompt: str) -> list[Fault]:
        found = []
        for fault in self.marker_faults(prompt):
            if fault.kind in ("not_found", "expired", "moderation-output", "url-403", "url-404", "url-html", "url-drip", "extra") or (
                fault.kind == "code" and self._code(fault) in OUTPUT_CODES
            ):
                self.use_marker(fault, prompt)
                found.append(fault)
        return found

    def _submit(self, body: dict[str, Any], faults: list[Fault]) -> web.Response:
        self._validate(body)
        task_id = str(7_000_000_000_000_000_000 + secrets.randbelow(10**18))
        prompt = body.get("prompt") or ""
        self.tasks[task_id] = Task(
            task_id=task_id, req_key=body["req_key"], body=body, prompt=prompt,
            pending_polls=self.pending_polls, markers=self._finish_markers(prompt),
        )
        return self.envelope(10000, "Success", {"task_id": task_id})

    def _get_result(self, body: dict[str, Any], faults: list[Fault]) -> web.Response:
        req_key, task_id, req_json = body.get("req_key"), body.get("task_id"), body.get("req_json")
        if not isinstance(req_key, str) or not isinstance(task_id, str):
            raise VisualFault(50201, "ECReqMissingArgs: req_key and task_id")
        options: dict[str, Any] = {}
        if req_json is not None:
            if not isinstance(req_json, str):
                raise VisualFault(50204, "ECParseArgs: req_json must be a JSON string")
            try:
                options = json.loads(req_json)
            except ValueError as exc:
                raise VisualFault(50204, "ECParseArgs: req_json is not JSON") from exc
            if not isinstance(options, dict):
                raise VisualFault(50204, "ECParseArgs: req_json must encode an object")
        task = self.tasks.get(task_id)
        kinds = {fault.kind for fault in faults}
        if task is None or task.req_key != req_key or "not_found" in kinds:
            return self.envelope(10000, "Success", {"status": "not_found"})
        markers = task.markers + faults
        if any(fault.kind == "expired" for fault in markers):
            return self.envelope(10000, "Success", {"status": "expired"})
        if any(fault.kind == "not_found" for fault in task.markers):
            return self.envelope(10000, "Success", {"status": "not_found"})
        task.polls += 1
        if task.polls <= task.pending_polls:
            return self.envelope(10000, "Success", {"status": "in_queue" if task.polls == 1 else "generating"})
        code, url_fault = self._output_faults(markers)
        if code is not None:
            return web.json_response(
                {"code": code, "status": code, "message": _MESSAGES.get(code, "Error"), "request_id": request_id(),
                 "time_elapsed": "3.1s", "data": {"status": "done", "binary_data_base64": None, "image_urls": None}},
                status=status_for(code),
            )
        width, height, count = self._validate(task.body)
        count += self._extra(markers)
        data = self._output(width, height, count, as_url=bool(options.get("return_url")), url_fault=url_fault)
        return self.envelope(10000, "Success", data | {"status": "done"})

    def _cancel(self, body: dict[str, Any]) -> web.Response:
        task = self.tasks.get(str(body.get("task_id")))
        if task is None or task.req_key != body.get("req_key"):
            raise VisualFault(50200, "ECReqInvalidArgs: task not found")
        task.cancelled = True
        return self.envelope(10000, "Success", {"status": "cancelled"})


def main(argv: list[str] | None = None) -> None:
    parser = common_arguments("Fake Volcengine Visual API")
    parser.add_argument("--access-key", required=True)
    parser.add_argument("--secret-key", required=True)
    parser.add_argument("--pending-polls", type=int, default=2, help="polls answered in_queue/generating")
    args = parser.parse_args(argv)
    server = FakeVisualServer(
        access_key=args.access_key,
        secret_key=args.secret_key,
        host=args.host,
        port=args.port,
        latency_ms=args.latency_ms,
        max_image_side=args.max_image_side or None,
        photo_format=args.photo_format,
        timeout_seconds=args.timeout_seconds,
        concurrency_limit=args.concurrency_limit,
    )
    server.pending_polls = args.pending_polls
    run_until_signal(server)


if __name__ == "__main__":
    main()
