"""The one place where upstream responses and transport failures become ``ProviderError``s.

Messages are English sentences that say what happened and what to do. They may quote a short
excerpt of the upstream's own message (redacted, at most ``EXCERPT_CHARS``), never a whole body,
a key or an Authorization header.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp

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


def _excerpt(message: Any, secrets: Iterable[str]) -> str:
    if not isinstance(message, str) or not message.strip():
        return ""
    return f' Upstream said: "{redact(message, secrets)}"'


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
    said = _excerpt(error_obj.get("message"), secrets)
    kw: dict[str, Any] = {"upstream_code": code or None, "status": status}

    if _is_ark_moderation(code):
        if code.startswith("Output"):
            return ContentModeration(
                "The generated image was blocked by Volcengine content moderation. "
                "Try again with a different prompt or seed." + said,
                stage="output",
                **kw,
            )
        return ContentModeration(
            "The prompt or a reference image was refused by Volcengine content moderation. "
            "Change the prompt or the images and try again." + said,
            stage="input",
            **kw,
        )
    if code == "ContentSecurityDetectionError":
        return UpstreamServerError(
            "Volcengine's content moderation service failed on this request; it is usually "
            "temporary, try again shortly." + said,
            **kw,
        )
    if status == 401 or code == "AuthenticationError":
        return UpstreamAuthError(
            "Ark rejected the API key. Check ARK_API_KEY in the server configuration." + said, **kw
        )
    if code == "AccountOverdueError":
        return UpstreamAuthError(
            "The Volcengine account is overdue. Top up the account in the Volcengine console, "
            "then try again." + said,
            **kw,
        )
    if status == 403 or code.startswith(("AccessDenied", "OperationDenied")):
        return UpstreamAuthError(
            "Ark refused access: the service is not activated for this account or the key lacks "
            "permission. Check the Ark console." + said,
            **kw,
        )
    if status == 404 or code in {"ModelNotOpen"} or code.startswith("InvalidEndpointOrModel"):
        return UpstreamBadRequest(
            "This model is not available to the account: activate (开通) it in the Ark console, or "
            "check the model / endpoint id." + said,
            **kw,
        )
    if code == "SetLimitExceeded":
        return UpstreamRateLimited(
            "The account's own inference limit (\"safe experience\" mode) was reached. Raise or "
            "switch off the limit in the Ark console, then try again." + said,
            retryable=False,
            **kw,
        )
    if code == "QuotaExceeded":
        return UpstreamRateLimited(
            "The Ark quota or task queue of the account is full. Wait a few minutes and try "
            "again." + said,
            retry_after=parse_retry_after(_header(headers, "Retry-After")),
            **kw,
        )
    if status == 429 or code.startswith(("RateLimitExceeded", "RequestBurstTooFast")) or code.endswith(
        "RateLimitExceeded"
    ) or code == "ServerOverloaded":
        return UpstreamRateLimited(
            "Ark is throttling requests (rate limit reached). The request was retried; try again "
            "in a minute or lower the concurrency." + said,
            retry_after=parse_retry_after(_header(headers, "Retry-After")),
            **kw,
        )
    if code == "InvalidEndpoint.ClosedEndpoint":
        return UpstreamBadRequest(
            "The Ark endpoint is closed or temporarily unavailable. Try again later or check the "
            "endpoint in the Ark console." + said,
            retryable=True,
            **kw,
        )
    if status == 408:
        return UpstreamTimeout("Ark timed out handling the request. Try again." + said, **kw)
    if status is not None and status >= 500:
        return UpstreamServerError(
            f"Ark had an internal error (HTTP {status}). Try again in a moment." + said, **kw
        )
    if status == 409:
        return UpstreamServerError("Ark reported a conflict; try again." + said, **kw)
    if status is None:
        # A failure reported inside a 200 stream or data item.
        return UpstreamServerError("Ark could not generate this image." + said, **kw)
    return UpstreamBadRequest(
        f"Ark refused the request parameters ({code or f'HTTP {status}'}). Adjust the settings and "
        "try again." + said,
        **kw,
    )


def _ark_error_without_code(status: int) -> ProviderError:
    kw: dict[str, Any] = {"status": status}
    if status in (401, 403):
        return UpstreamAuthError(f"Ark refused the request (HTTP {status}). Check ARK_API_KEY.", **kw)
    if status == 404:
        return UpstreamBadRequest(
            "Ark answered 404: check ARK_BASE_URL and that the model is activated in the Ark console.",
            **kw,
        )
    if status == 429:
        return UpstreamRateLimited("Ark is throttling requests (HTTP 429). Try again in a minute.", **kw)
    if status >= 500:
        return UpstreamServerError(f"Ark had an internal error (HTTP {status}). Try again in a moment.", **kw)
    return UpstreamBadResponse(
        f"Ark returned an unreadable response (HTTP {status}). Try again; if it persists, check "
        "ARK_BASE_URL.",
        retryable=status >= 500 or status == 200,
        **kw,
    )


# --------------------------------------------------------------------------------------------
# Visual

_GATEWAY_AUTH_MESSAGES = {
    "SignatureDoesNotMatch": "The Visual API rejected the request signature. Check "
    "VOLCENGINE_SECRET_KEY (and that it belongs to the access key).",
    "InvalidAccessKey": "The Visual API does not know this access key. Check VOLCENGINE_ACCESS_KEY.",
    "MissingAuthenticationToken": "The Visual API request carried no credentials. Set "
    "VOLCENGINE_ACCESS_KEY and VOLCENGINE_SECRET_KEY.",
    "MissingSignature": "The Visual API request carried no signature. Set VOLCENGINE_ACCESS_KEY and "
    "VOLCENGINE_SECRET_KEY.",
    "AccessDenied": "The Visual API denied access: activate the service for the account, or grant "
    "the sub-user the needed policy, in the Volcengine console.",
    "LackPolicy": "The Visual API denied access: the sub-user lacks the policy for this service. "
    "Grant it in the Volcengine IAM console.",
}

_VISUAL_MODERATION = {
    50411: ("input", "A reference image was refused by Volcengine content moderation. Use another image."),
    50412: ("input", "The prompt was refused by Volcengine content moderation. Change the prompt and try again."),
    50413: ("input", "The prompt contains sensitive or copyrighted terms. Change the prompt and try again."),
    50511: ("output", "The generated image was blocked by Volcengine content moderation. Try a different "
            "prompt or seed."),
    50512: ("output", "The generated text was blocked by Volcengine content moderation. Change the prompt "
            "and try again."),
}

_VISUAL_BAD_REQUEST = {
    50200: "The Visual API refused the parameters as invalid.",
    50201: "The Visual API says a required parameter is missing.",
    50204: "The Visual API could not parse the request parameters.",
    50205: "A reference image is too large for this model. Use a smaller image.",
    50206: "The Visual API received an empty reference image.",
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
    said = _excerpt(payload.get("message"), secrets)
    kw: dict[str, Any] = {"upstream_code": str(raw_code) if raw_code is not None else None, "status": status}

    if code is None:
        return _visual_status_only(status, body)
    if code in _VISUAL_MODERATION:
        stage, text = _VISUAL_MODERATION[code]
        return ContentModeration(text + said, stage=stage, **kw)
    if code in (50429, 50430):
        kind = "request rate" if code == 50429 else "concurrency"
        return UpstreamRateLimited(
            f"The Visual API {kind} limit was reached. The request was retried; try again in a "
            "minute or lower VISUAL_MAX_CONCURRENCY." + said,
            **kw,
        )
    if code in (50500, 50501):
        return UpstreamServerError(
            "The Visual API had an internal error while generating. Try again in a moment." + said, **kw
        )
    if code in _VISUAL_BAD_REQUEST:
        return UpstreamBadRequest(_VISUAL_BAD_REQUEST[code] + said, **kw)
    if code == 10000:
        return UpstreamBadResponse(
            "The Visual API reported success but returned no usable result. Try again.", **kw
        )
    if status >= 500:
        return UpstreamServerError(f"The Visual API failed (code {code}). Try again in a moment." + said, **kw)
    if status == 429:
        return UpstreamRateLimited(f"The Visual API is throttling requests (code {code})." + said, **kw)
    return UpstreamBadRequest(
        f"The Visual API refused the request (code {code}). Adjust the settings and try again." + said, **kw
    )


def _visual_gateway_error(status: int, error_obj: Mapping[str, Any], secrets: Iterable[str]) -> ProviderError:
    code = str(error_obj.get("Code") or "")
    said = _excerpt(error_obj.get("Message"), secrets)
    kw: dict[str, Any] = {"upstream_code": code or None, "status": status}
    if code in _GATEWAY_AUTH_MESSAGES:
        return UpstreamAuthError(_GATEWAY_AUTH_MESSAGES[code] + said, **kw)
    if code == "InvalidTimestamp":
        # Re-signing with a fresh date fixes a one-off skew; a persistent one needs the clock fixed.
        return UpstreamAuthError(
            "The Visual API refused the request time: the server clock is out of sync. Enable NTP "
            "on the server." + said,
            retryable=True,
            **kw,
        )
    if code == "InvalidActionOrVersion":
        return UpstreamBadRequest(
            "The Visual API does not know this action; check VISUAL_BASE_URL." + said, **kw
        )
    if status in (401, 403):
        return UpstreamAuthError(
            f"The Visual API refused the credentials ({code or status}). Check the access and "
            "secret keys." + said,
            **kw,
        )
    if status == 429 or "Limit" in code or "Throttl" in code:
        return UpstreamRateLimited("The Visual API gateway is throttling requests." + said, **kw)
    if status >= 500:
        return UpstreamServerError(f"The Visual API gateway failed (HTTP {status}). Try again." + said, **kw)
    return UpstreamBadRequest(f"The Visual API gateway refused the request ({code or status})." + said, **kw)


def _visual_status_only(status: int, body: bytes) -> ProviderError:
    kw: dict[str, Any] = {"status": status}
    if status in (401, 403):
        return UpstreamAuthError(f"The Visual API refused the request (HTTP {status}). Check the keys.", **kw)
    if status == 429:
        return UpstreamRateLimited("The Visual API is throttling requests (HTTP 429).", **kw)
    if status >= 500:
        return UpstreamServerError(f"The Visual API failed (HTTP {status}). Try again in a moment.", **kw)
    return UpstreamBadResponse(
        f"The Visual API returned an unreadable response (HTTP {status}, {len(body)} bytes). Try again; "
        "if it persists, check VISUAL_BASE_URL.",
        **kw,
    )


# --------------------------------------------------------------------------------------------
# Transport


def transport_error(exc: BaseException, *, service: str, billed: bool) -> ProviderError:
    """Map an aiohttp / timeout exception raised while talking to ``service``.

    ``billed``: the request went to an endpoint that charges per generation. A failure after the
    request was sent there may have produced images anyway, so it is flagged for a single retry.
    """
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return UpstreamTimeout(f"Could not connect to {service} in time. Check the network and try again.")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamConnectionError(
            f"Could not connect to {service}. Check the network / base URL and try again."
        )
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        error: ProviderError = UpstreamTimeout(
            f"{service} did not answer in time. The job can be retried; if it keeps timing out, "
            "raise UPSTREAM_READ_TIMEOUT (between bytes) or UPSTREAM_TOTAL_TIMEOUT (whole answer)."
        )
    elif isinstance(exc, aiohttp.ClientPayloadError):
        error = UpstreamBadResponse(f"The response from {service} was cut off. Try again.")
    else:
        error = UpstreamConnectionError(f"The connection to {service} failed mid-request. Try again.")
    return flag_possibly_billed(error) if billed else error


def bad_response(service: str, what: str, *, status: int | None = 200, billed: bool = False) -> ProviderError:
    """A 2xx answer we cannot use (not JSON, missing fields)."""
    error = UpstreamBadResponse(f"{service} returned an unusable response ({what}). Try again.", status=status)
    return flag_possibly_billed(error) if billed else error
