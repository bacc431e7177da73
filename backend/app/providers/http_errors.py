"""The one place where upstream responses and transport failures become ``ProviderError``s.

Every message comes in English and in Chinese (``message_zh``), each saying what happened and what
to do. The English one may quote a short excerpt of the upstream's own message (redacted, at most
``EXCERPT_CHARS``), never a whole body, a key or an Authorization header. The Chinese one quotes it
only when the upstream wrote Chinese: an English sentence inside a Chinese UI is what this avoids,
and the English message (same task, other language) still carries the quote.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from app.core.errors import (
    ContentModeration,
    ProviderError,
    UpstreamAuthError,
    UpstreamBadRequest,
    UpstreamBadResponse,
    UpstreamConnectionError,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamTimeout,
)
from app.providers.retry import flag_possibly_billed, parse_retry_after
from app.providers.transport import Service

EXCERPT_CHARS = 200

_REDACTIONS = (
    # Authorization header values, whatever the scheme.
    re.compile(r"(?i)\b(bearer|hmac-sha256)\s+[^\s,;\"']+"),
    re.compile(r"(?i)(credential|signature|authorization|api[_-]?key|secret[_-]?key|access[_-]?key)\s*[=:]\s*[^\s,;\"']+"),
    # Volcengine access keys (AKLT..., AKTP...) and Ark API keys (UUIDs).
    re.compile(r"\bAK[A-Z]{2}[A-Za-z0-9+/=_-]{8,}"),
    re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    # Long opaque base64-ish runs look like secret keys or signatures; request ids are shorter
    # or pure hex, which we keep because support needs them.
    re.compile(r"[A-Za-z0-9+/_-]{40,}={0,2}"),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with anything key-like replaced, cut to ``EXCERPT_CHARS``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    for pattern in _REDACTIONS:
        text = pattern.sub("[redacted]", text)
    text = " ".join(text.split())
    if len(text) > EXCERPT_CHARS:
        text = text[: EXCERPT_CHARS - 1] + "…"
    return text


_CJK = re.compile(r"[\u4e00-\u9fff]")


def _excerpts(message: Any, secrets: Iterable[str]) -> tuple[str, str]:
    """The upstream's own words to append to the English and to the Chinese message."""
    if not isinstance(message, str) or not message.strip():
        return "", ""
    quoted = redact(message, secrets)
    return f' Upstream said: "{quoted}"', (f"上游返回：“{quoted}”" if _CJK.search(quoted) else "")


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _header_retry(headers: Mapping[str, str] | None) -> bool | None:
    value = (headers or {}).get("x-should-retry") or (headers or {}).get("X-Should-Retry")
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    return None


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    return headers.get(name) or headers.get(name.lower()) or headers.get(name.title())


# --------------------------------------------------------------------------------------------
# Ark


def _is_ark_moderation(code: str) -> bool:
    return "SensitiveContentDetected" in code or code.endswith("RiskDetection")


def ark_error(
    status: int,
    body: bytes,
    headers: Mapping[str, str] | None,
    *,
    secrets: Iterable[str] = (),
) -> ProviderError:
    """Map one Ark error response (``{"error": {code, message, ...}}`` + status) to the tree."""
    payload = _json_object(body)
    error_obj = payload.get("error") if payload else None
    if not isinstance(error_obj, dict):
        error = _ark_error_without_code(status)
    else:
        error = ark_error_from_object(error_obj, status=status, headers=headers, secrets=secrets)
    should_retry = _header_retry(headers)
    if should_retry is not None:
        # Ark tells us explicitly; the SDK obeys this header and so do we.
        error.retryable = should_retry
    return error


def ark_error_from_object(
    error_obj: Mapping[str, Any],
    *,
    status: int | None,
    headers: Mapping[str, str] | None = None,
    secrets: Iterable[str] = (),
) -> ProviderError:
    """Map an Ark ``error`` object: from an HTTP error body, a stream frame or a data item."""
    code = str(error_obj.get("code") or "")
    said, said_zh = _excerpts(error_obj.get("message"), secrets)
    kw: dict[str, Any] = {"upstream_code": code or None, "status": status}

    if _is_ark_moderation(code):
        if code.startswith("Output"):
            return ContentModeration(
                "The generated image was blocked by Volcengine content moderation. "
                "Try again with a different prompt or seed." + said,
                message_zh="生成的图片未通过火山引擎内容审核。请换一个提示词或种子再试。" + said_zh,
                stage="output",
                **kw,
            )
        return ContentModeration(
            "The prompt or a reference image was refused by Volcengine content moderation. "
            "Change the prompt or the images and try again." + said,
            message_zh="提示词或参考图未通过火山引擎内容审核。请修改提示词或更换图片后再试。" + said_zh,
            stage="input",
            **kw,
        )
    if code == "ContentSecurityDetectionError":
        return UpstreamServerError(
            "Volcengine's content moderation service failed on this request; it is usually "
            "temporary, try again shortly." + said,
            message_zh="火山引擎内容审核服务处理本次请求时出错，通常是暂时的，请稍后再试。" + said_zh,
            **kw,
        )
    if status == 401 or code == "AuthenticationError":
        return UpstreamAuthError(
            "Ark rejected the API key. Check ARK_API_KEY in the server configuration." + said,
            message_zh="方舟拒绝了 API Key。请检查服务器配置中的 ARK_API_KEY。" + said_zh,
            **kw,
        )
    if code == "AccountOverdueError":
        return UpstreamAuthError(
            "The Volcengine account is overdue. Top up the account in the Volcengine console, "
            "then try again." + said,
            message_zh="火山引擎账户已欠费。请在火山引擎控制台充值后再试。" + said_zh,
            **kw,
        )
    if status == 403 or code.startswith(("AccessDenied", "OperationDenied")):
        return UpstreamAuthError(
            "Ark refused access: the service is not activated for this account or the key lacks "
            "permission. Check the Ark console." + said,
            message_zh="方舟拒绝访问：该账户未开通此服务，或 API Key 没有权限。请检查方舟控制台。" + said_zh,
            **kw,
        )
    if status == 404 or code in {"ModelNotOpen"} or code.startswith("InvalidEndpointOrModel"):
        return UpstreamBadRequest(
            "This model is not available to the account: activate (开通) it in the Ark console, or "
            "check the model / endpoint id." + said,
            message_zh="该账户无法使用此模型：请在方舟控制台开通该模型，或检查模型 / 推理接入点 ID。" + said_zh,
            **kw,
        )
    if code == "SetLimitExceeded":
        return UpstreamRateLimited(
            "The account's own inference limit (\"safe experience\" mode) was reached. Raise or "
            "switch off the limit in the Ark console, then try again." + said,
            message_zh="已达到账户自行设置的推理限额（“安心体验模式”）。请在方舟控制台调高或关闭该限额后再试。"
            + said_zh,
            retryable=False,
            **kw,
        )
    if code == "QuotaExceeded":
        return UpstreamRateLimited(
            "The Ark quota or task queue of the account is full. Wait a few minutes and try "
            "again." + said,
            message_zh="方舟账户的配额或任务队列已满。请等几分钟再试。" + said_zh,
            retry_after=parse_retry_after(_header(headers, "Retry-After")),
            **kw,
        )
    if status == 429 or code.startswith(("RateLimitExceeded", "RequestBurstTooFast")) or code.endswith(
        "RateLimitExceeded"
    ) or code == "ServerOverloaded":
        return UpstreamRateLimited(
            "Ark is throttling requests (rate limit reached). The request was retried; try again "
            "in a minute or lower the concurrency." + said,
            message_zh="方舟正在限流（已达到调用频率上限）。已自动重试；请一分钟后再试，或降低并发数。" + said_zh,
            retry_after=parse_retry_after(_header(headers, "Retry-After")),
            **kw,
        )
    if code == "InvalidEndpoint.ClosedEndpoint":
        return UpstreamBadRequest(
            "The Ark endpoint is closed or temporarily unavailable. Try again later or check the "
            "endpoint in the Ark console." + said,
            message_zh="方舟推理接入点已关闭或暂时不可用。请稍后再试，或在方舟控制台检查该接入点。" + said_zh,
            retryable=True,
            **kw,
        )
    if status == 408:
        return UpstreamTimeout(
            "Ark timed out handling the request. Try again." + said,
            message_zh="方舟处理请求超时。请重试。" + said_zh,
            **kw,
        )
    if status is not None and status >= 500:
        return UpstreamServerError(
            f"Ark had an internal error (HTTP {status}). Try again in a moment." + said,
            message_zh=f"方舟内部出错（HTTP {status}）。请稍后再试。" + said_zh,
            **kw,
        )
    if status == 409:
        return UpstreamServerError(
            "Ark reported a conflict; try again." + said, message_zh="方舟报告请求冲突，请重试。" + said_zh, **kw
        )
    if status is None:
        # A failure reported inside a 200 stream or data item.
        return UpstreamServerError(
            "Ark could not generate this image." + said, message_zh="方舟未能生成这张图片。" + said_zh, **kw
        )
    what = code or f"HTTP {status}"
    return UpstreamBadRequest(
        f"Ark refused the request parameters ({what}). Adjust the settings and try again." + said,
        message_zh=f"方舟拒绝了请求参数（{what}）。请调整设置后再试。" + said_zh,
        **kw,
    )


def _ark_error_without_code(status: int) -> ProviderError:
    kw: dict[str, Any] = {"status": status}
    if status in (401, 403):
        return UpstreamAuthError(
            f"Ark refused the request (HTTP {status}). Check ARK_API_KEY.",
            message_zh=f"方舟拒绝了请求（HTTP {status}）。请检查 ARK_API_KEY。",
            **kw,
        )
    if status == 404:
        return UpstreamBadRequest(
            "Ark answered 404: check ARK_BASE_URL and that the model is activated in the Ark console.",
            message_zh="方舟返回 404：请检查 ARK_BASE_URL，并确认已在方舟控制台开通该模型。",
            **kw,
        )
    if status == 429:
        return UpstreamRateLimited(
            "Ark is throttling requests (HTTP 429). Try again in a minute.",
            message_zh="方舟正在限流（HTTP 429）。请一分钟后再试。",
            **kw,
        )
    if status >= 500:
        return UpstreamServerError(
            f"Ark had an internal error (HTTP {status}). Try again in a moment.",
            message_zh=f"方舟内部出错（HTTP {status}）。请稍后再试。",
            **kw,
        )
    return UpstreamBadResponse(
        f"Ark returned an unreadable response (HTTP {status}). Try again; if it persists, check "
        "ARK_BASE_URL.",
        message_zh=f"方舟返回了无法解析的响应（HTTP {status}）。请重试；如果一直出现，请检查 ARK_BASE_URL。",
        retryable=status >= 500 or status == 200,
        **kw,
    )


# --------------------------------------------------------------------------------------------
# Visual

# (English, Chinese) for each gateway code that means "these credentials will not do".
_GATEWAY_AUTH_MESSAGES = {
    "SignatureDoesNotMatch": (
        "The Visual API rejected the request signature. Check VOLCENGINE_SECRET_KEY (and that it "
        "belongs to the access key).",
        "视觉智能服务拒绝了请求签名。请检查 VOLCENGINE_SECRET_KEY（以及它是否与 VOLCENGINE_ACCESS_KEY 配对）。",
    ),
    "InvalidAccessKey": (
        "The Visual API does not know this access key. Check VOLCENGINE_ACCESS_KEY.",
        "视觉智能服务无法识别该访问密钥。请检查 VOLCENGINE_ACCESS_KEY。",
    ),
    "MissingAuthenticationToken": (
        "The Visual API request carried no credentials. Set VOLCENGINE_ACCESS_KEY and VOLCENGINE_SECRET_KEY.",
        "发往视觉智能服务的请求没有携带凭证。请设置 VOLCENGINE_ACCESS_KEY 和 VOLCENGINE_SECRET_KEY。",
    ),
    "MissingSignature": (
        "The Visual API request carried no signature. Set VOLCENGINE_ACCESS_KEY and VOLCENGINE_SECRET_KEY.",
        "发往视觉智能服务的请求没有签名。请设置 VOLCENGINE_ACCESS_KEY 和 VOLCENGINE_SECRET_KEY。",
    ),
    "AccessDenied": (
        "The Visual API denied access: activate the service for the account, or grant the sub-user "
        "the needed policy, in the Volcengine console.",
        "视觉智能服务拒绝访问：请在火山引擎控制台为账户开通该服务，或为子用户授予所需的权限策略。",
    ),
    "LackPolicy": (
        "The Visual API denied access: the sub-user lacks the policy for this service. Grant it in "
        "the Volcengine IAM console.",
        "视觉智能服务拒绝访问：子用户缺少该服务的权限策略。请在火山引擎访问控制台授权。",
    ),
}

# code: (stage, English, Chinese)
_VISUAL_MODERATION = {
    50411: ("input", "A reference image was refused by Volcengine content moderation. Use another image.",
            "参考图未通过火山引擎内容审核。请换一张图片。"),
    50412: ("input", "The prompt was refused by Volcengine content moderation. Change the prompt and try again.",
            "提示词未通过火山引擎内容审核。请修改提示词后再试。"),
    50413: ("input", "The prompt contains sensitive or copyrighted terms. Change the prompt and try again.",
            "提示词包含敏感或受版权保护的词语。请修改提示词后再试。"),
    50511: ("output", "The generated image was blocked by Volcengine content moderation. Try a different "
            "prompt or seed.", "生成的图片未通过火山引擎内容审核。请换一个提示词或种子再试。"),
    50512: ("output", "The generated text was blocked by Volcengine content moderation. Change the prompt "
            "and try again.", "生成的文字未通过火山引擎内容审核。请修改提示词后再试。"),
}

# code: (English, Chinese)
_VISUAL_BAD_REQUEST = {
    50200: ("The Visual API refused the parameters as invalid.", "视觉智能服务认为请求参数无效。"),
    50201: ("The Visual API says a required parameter is missing.", "视觉智能服务提示缺少必填参数。"),
    50204: ("The Visual API could not parse the request parameters.", "视觉智能服务无法解析请求参数。"),
    50205: ("A reference image is too large for this model. Use a smaller image.",
            "参考图对该模型来说太大。请使用更小的图片。"),
    50206: ("The Visual API received an empty reference image.", "视觉智能服务收到的参考图是空的。"),
}


def visual_error(
    status: int, payload: dict[str, Any] | None, body: bytes, *, secrets: Iterable[str] = ()
) -> ProviderError:
    """Map a Visual API failure: gateway ``ResponseMetadata.Error`` or a service ``code``.

    ``payload`` is the parsed body (None when it was not a JSON object); ``body`` the raw bytes,
    used only for its size in messages, never quoted whole.
    """
    if payload is None:
        return _visual_status_only(status, body)
    metadata = payload.get("ResponseMetadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("Error"), dict):
        return _visual_gateway_error(status, metadata["Error"], secrets)

    raw_code = payload.get("code")
    try:
        code = int(raw_code) if raw_code is not None else None
    except (TypeError, ValueError):
        code = None
    said, said_zh = _excerpts(payload.get("message"), secrets)
    kw: dict[str, Any] = {"upstream_code": str(raw_code) if raw_code is not None else None, "status": status}

    if code is None:
        return _visual_status_only(status, body)
    if code in _VISUAL_MODERATION:
        stage, text, text_zh = _VISUAL_MODERATION[code]
        return ContentModeration(text + said, message_zh=text_zh + said_zh, stage=stage, **kw)
    if code in (50429, 50430):
        kind, kind_zh = ("request rate", "请求频率") if code == 50429 else ("concurrency", "并发数")
        return UpstreamRateLimited(
            f"The Visual API {kind} limit was reached. The request was retried; try again in a "
            "minute or lower VISUAL_MAX_CONCURRENCY." + said,
            message_zh=f"已达到视觉智能服务的{kind_zh}上限。已自动重试；请一分钟后再试，或调低 "
            "VISUAL_MAX_CONCURRENCY。" + said_zh,
            **kw,
        )
    if code in (50500, 50501):
        return UpstreamServerError(
            "The Visual API had an internal error while generating. Try again in a moment." + said,
            message_zh="视觉智能服务生成时内部出错。请稍后再试。" + said_zh,
            **kw,
        )
    if code in _VISUAL_BAD_REQUEST:
        text, text_zh = _VISUAL_BAD_REQUEST[code]
        return UpstreamBadRequest(text + said, message_zh=text_zh + said_zh, **kw)
    if code == 10000:
        return UpstreamBadResponse(
            "The Visual API reported success but returned no usable result. Try again.",
            message_zh="视觉智能服务报告成功，却没有返回可用的结果。请重试。",
            **kw,
        )
    if status >= 500:
        return UpstreamServerError(
            f"The Visual API failed (code {code}). Try again in a moment." + said,
            message_zh=f"视觉智能服务出错（错误码 {code}）。请稍后再试。" + said_zh,
            **kw,
        )
    if status == 429:
        return UpstreamRateLimited(
            f"The Visual API is throttling requests (code {code})." + said,
            message_zh=f"视觉智能服务正在限流（错误码 {code}）。" + said_zh,
            **kw,
        )
    return UpstreamBadRequest(
        f"The Visual API refused the request (code {code}). Adjust the settings and try again." + said,
        message_zh=f"视觉智能服务拒绝了请求（错误码 {code}）。请调整设置后再试。" + said_zh,
        **kw,
    )


def _visual_gateway_error(status: int, error_obj: Mapping[str, Any], secrets: Iterable[str]) -> ProviderError:
    code = str(error_obj.get("Code") or "")
    said, said_zh = _excerpts(error_obj.get("Message"), secrets)
    kw: dict[str, Any] = {"upstream_code": code or None, "status": status}
    if code in _GATEWAY_AUTH_MESSAGES:
        text, text_zh = _GATEWAY_AUTH_MESSAGES[code]
        return UpstreamAuthError(text + said, message_zh=text_zh + said_zh, **kw)
    if code == "InvalidTimestamp":
        # Re-signing with a fresh date fixes a one-off skew; a persistent one needs the clock fixed.
        return UpstreamAuthError(
            "The Visual API refused the request time: the server clock is out of sync. Enable NTP "
            "on the server." + said,
            message_zh="视觉智能服务拒绝了请求时间：服务器时钟不准。请在服务器上启用 NTP 时间同步。" + said_zh,
            retryable=True,
            **kw,
        )
    if code == "InvalidActionOrVersion":
        return UpstreamBadRequest(
            "The Visual API does not know this action; check VISUAL_BASE_URL." + said,
            message_zh="视觉智能服务不认识这个操作；请检查 VISUAL_BASE_URL。" + said_zh,
            **kw,
        )
    what = code or str(status)
    if status in (401, 403):
        return UpstreamAuthError(
            f"The Visual API refused the credentials ({what}). Check the access and secret keys." + said,
            message_zh=f"视觉智能服务拒绝了凭证（{what}）。请检查 VOLCENGINE_ACCESS_KEY 和 "
            "VOLCENGINE_SECRET_KEY。" + said_zh,
            **kw,
        )
    if status == 429 or "Limit" in code or "Throttl" in code:
        return UpstreamRateLimited(
            "The Visual API gateway is throttling requests." + said,
            message_zh="视觉智能服务的网关正在限流。" + said_zh,
            **kw,
        )
    if status >= 500:
        return UpstreamServerError(
            f"The Visual API gateway failed (HTTP {status}). Try again." + said,
            message_zh=f"视觉智能服务的网关出错（HTTP {status}）。请重试。" + said_zh,
            **kw,
        )
    return UpstreamBadRequest(
        f"The Visual API gateway refused the request ({what})." + said,
        message_zh=f"视觉智能服务的网关拒绝了请求（{what}）。" + said_zh,
        **kw,
    )


def _visual_status_only(status: int, body: bytes) -> ProviderError:
    kw: dict[str, Any] = {"status": status}
    if status in (401, 403):
        return UpstreamAuthError(
            f"The Visual API refused the request (HTTP {status}). Check the keys.",
            message_zh=f"视觉智能服务拒绝了请求（HTTP {status}）。请检查密钥。",
            **kw,
        )
    if status == 429:
        return UpstreamRateLimited(
            "The Visual API is throttling requests (HTTP 429).",
            message_zh="视觉智能服务正在限流（HTTP 429）。",
            **kw,
        )
    if status >= 500:
        return UpstreamServerError(
            f"The Visual API failed (HTTP {status}). Try again in a moment.",
            message_zh=f"视觉智能服务出错（HTTP {status}）。请稍后再试。",
            **kw,
        )
    return UpstreamBadResponse(
        f"The Visual API returned an unreadable response (HTTP {status}, {len(body)} bytes). Try again; "
        "if it persists, check VISUAL_BASE_URL.",
        message_zh=f"视觉智能服务返回了无法解析的响应（HTTP {status}，{len(body)} 字节）。请重试；"
        "如果一直出现，请检查 VISUAL_BASE_URL。",
        **kw,
    )


# --------------------------------------------------------------------------------------------
# Transport


def transport_error(exc: BaseException, *, service: Service, billed: bool) -> ProviderError:
    """Map an aiohttp / timeout exception raised while talking to ``service``.

    ``billed``: the request went to an endpoint that charges per generation. A failure after the
    request was sent there may have produced images anyway, so it is flagged for a single retry.
    """
    import aiohttp  # loaded already: it raised ``exc``

    name, name_zh = service.en, service.zh
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return UpstreamTimeout(
            f"Could not connect to {name} in time. Check the network and try again.",
            message_zh=f"未能及时连上{name_zh}。请检查网络后重试。",
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamConnectionError(
            f"Could not connect to {name}. Check the network / base URL and try again.",
            message_zh=f"无法连接到{name_zh}。请检查网络或服务地址后重试。",
        )
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        error: ProviderError = UpstreamTimeout(
            f"{name[:1].upper()}{name[1:]} did not answer in time. The job can be retried; if it keeps "
            "timing out, raise UPSTREAM_READ_TIMEOUT (between bytes) or UPSTREAM_TOTAL_TIMEOUT (whole answer).",
            message_zh=f"{name_zh}未能及时响应。可以重试此任务；如果一直超时，请调大 UPSTREAM_READ_TIMEOUT"
            "（两段数据之间的等待）或 UPSTREAM_TOTAL_TIMEOUT（整个响应）。",
        )
    elif isinstance(exc, aiohttp.ClientPayloadError):
        error = UpstreamBadResponse(
            f"The response from {name} was cut off. Try again.",
            message_zh=f"{name_zh}的响应被截断了。请重试。",
        )
    else:
        error = UpstreamConnectionError(
            f"The connection to {name} failed mid-request. Try again.",
            message_zh=f"与{name_zh}的连接在请求途中断开。请重试。",
        )
    return flag_possibly_billed(error) if billed else error


def bad_response(
    service: Service, what: str, what_zh: str, *, status: int | None = 200, billed: bool = False
) -> ProviderError:
    """A 2xx answer we cannot use (not JSON, missing fields); ``what`` says how, in both languages."""
    error = UpstreamBadResponse(
        f"{service.en[:1].upper()}{service.en[1:]} returned an unusable response ({what}). Try again.",
        message_zh=f"{service.zh}返回了无法使用的响应（{what_zh}）。请重试。",
        status=status,
    )
    return flag_possibly_billed(error) if billed else error
