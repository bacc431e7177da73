"""Mapping of upstream responses and transport failures to the error tree."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

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
from app.providers.ark import SERVICE as ARK
from app.providers.download import SERVICE as RESULT_HOST
from app.providers.http_errors import (
    EXCERPT_CHARS,
    ark_error,
    redact,
    transport_error,
    visual_error,
)
from app.providers.retry import is_possibly_billed
from app.providers.transport import Service
from app.providers.visual import SERVICE as VISUAL
from tests.chinese import assert_chinese


def _ark(code: str, message: str = "something happened") -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "param": "", "type": "x"}}).encode()


@pytest.mark.parametrize(
    ("status", "code", "error_type", "extra"),
    [
        (400, "InputTextSensitiveContentDetected", ContentModeration, {"stage": "input"}),
        (400, "InputImageSensitiveContentDetected.PrivacyInformation", ContentModeration, {"stage": "input"}),
        (400, "SensitiveContentDetected.SevereViolation", ContentModeration, {"stage": "input"}),
        (400, "InputTextRiskDetection", ContentModeration, {"stage": "input"}),
        (400, "OutputImageSensitiveContentDetected", ContentModeration, {"stage": "output"}),
        (400, "OutputImageRiskDetection", ContentModeration, {"stage": "output"}),
        (400, "ContentSecurityDetectionError", UpstreamServerError, {"retryable": True}),
        (400, "InvalidParameter.OversizedImage", UpstreamBadRequest, {"retryable": False}),
        (400, "MissingParameter", UpstreamBadRequest, {"retryable": False}),
        (400, "InvalidEndpoint.ClosedEndpoint", UpstreamBadRequest, {"retryable": True}),
        (401, "AuthenticationError", UpstreamAuthError, {"code": "upstream_auth_failed"}),
        (403, "AccountOverdueError", UpstreamAuthError, {}),
        (403, "OperationDenied.ServiceNotOpen", UpstreamAuthError, {}),
        (404, "ModelNotOpen", UpstreamBadRequest, {"retryable": False}),
        (404, "InvalidEndpointOrModel.NotFound", UpstreamBadRequest, {}),
        (429, "ModelAccountIpmRateLimitExceeded", UpstreamRateLimited, {"retryable": True}),
        (429, "RateLimitExceeded.EndpointRPMExceeded", UpstreamRateLimited, {}),
        (429, "ServerOverloaded", UpstreamRateLimited, {}),
        (429, "QuotaExceeded", UpstreamRateLimited, {"retryable": True}),
        (429, "SetLimitExceeded", UpstreamRateLimited, {"retryable": False}),
        (500, "InternalServiceError", UpstreamServerError, {"retryable": True}),
        (503, "", UpstreamServerError, {}),
        (408, "", UpstreamTimeout, {}),
    ],
)
def test_ark_error_table(status: int, code: str, error_type: type[ProviderError], extra: dict[str, Any]) -> None:
    error = ark_error(status, _ark(code), {})
    assert type(error) is error_type
    assert error.status == status
    assert error.upstream_code == (code or None)
    for name, value in extra.items():
        assert getattr(error, name) == value
    assert_chinese(error.message_zh, error.message, verbatim=[code])


def test_ark_model_not_open_says_what_to_do() -> None:
    error = ark_error(404, _ark("ModelNotOpen", "Your account has not activated the model."), {})
    assert "activate" in error.message and "Ark console" in error.message
    assert "开通" in error.message_zh and "方舟控制台" in error.message_zh


def test_the_upstream_is_quoted_in_chinese_only_when_it_wrote_chinese() -> None:
    english = ark_error(429, _ark("RequestBurstTooFast", "Too many requests. Request ID: 2025abc"), {})
    assert 'Upstream said: "Too many requests. Request ID: 2025abc"' in english.message
    assert "Too many" not in english.message_zh and "上游" not in english.message_zh
    chinese = ark_error(400, _ark("InputTextSensitiveContentDetected", "输入文本可能包含敏感信息 key ark-secret-1"), {},
                        secrets=["ark-secret-1"])
    assert chinese.message_zh.endswith("上游返回：“输入文本可能包含敏感信息 key [redacted]”")


def test_ark_rate_limit_carries_retry_after() -> None:
    error = ark_error(429, _ark("RequestBurstTooFast"), {"Retry-After": "7"})
    assert isinstance(error, UpstreamRateLimited) and error.retry_after == 7.0
    assert ark_error(429, _ark("RequestBurstTooFast"), {}).retry_after is None


@pytest.mark.parametrize(("header", "retryable"), [("true", True), ("false", False), ("TRUE", True), ("maybe", None)])
def test_ark_x_should_retry_header_wins(header: str, retryable: bool | None) -> None:
    for status, code in ((500, "InternalServiceError"), (400, "InvalidParameter")):
        error = ark_error(status, _ark(code), {"x-should-retry": header})
        expected = type(error).retryable if retryable is None else retryable
        assert error.retryable is expected


@pytest.mark.parametrize(
    ("status", "body", "error_type"),
    [
        (200, b"<html>oops</html>", UpstreamBadResponse),
        (502, b"<html>Bad Gateway</html>", UpstreamServerError),
        (401, b"", UpstreamAuthError),
        (429, b"slow down", UpstreamRateLimited),
        (404, b"not here", UpstreamBadRequest),
        (400, b'{"error": "just a string"}', UpstreamBadResponse),
    ],
)
def test_ark_error_without_an_error_object(status: int, body: bytes, error_type: type[ProviderError]) -> None:
    error = ark_error(status, body, None)
    assert type(error) is error_type
    assert body.decode() not in error.message or not body
    assert_chinese(error.message_zh, error.message)


@pytest.mark.parametrize(
    ("status", "code", "error_type", "extra"),
    [
        (400, 50411, ContentModeration, {"stage": "input"}),
        (400, 50412, ContentModeration, {"stage": "input"}),
        (400, 50413, ContentModeration, {"stage": "input"}),
        (400, 50511, ContentModeration, {"stage": "output"}),
        (400, 50512, ContentModeration, {"stage": "output"}),
        (429, 50429, UpstreamRateLimited, {"retryable": True}),
        (429, 50430, UpstreamRateLimited, {"retryable": True}),
        (500, 50500, UpstreamServerError, {"retryable": True}),
        (500, 50501, UpstreamServerError, {}),
        (400, 50200, UpstreamBadRequest, {"retryable": False}),
        (400, 50205, UpstreamBadRequest, {}),
        (400, 59999, UpstreamBadRequest, {}),
        (500, 59999, UpstreamServerError, {}),
    ],
)
def test_visual_service_codes(status: int, code: int, error_type: type[ProviderError], extra: dict[str, Any]) -> None:
    payload = {"code": code, "status": code, "message": "Some Message", "request_id": "r", "data": None}
    error = visual_error(status, payload, json.dumps(payload).encode())
    assert type(error) is error_type
    assert error.upstream_code == str(code) and error.status == status
    for name, value in extra.items():
        assert getattr(error, name) == value
    assert_chinese(error.message_zh, error.message)


@pytest.mark.parametrize(
    ("status", "code", "error_type"),
    [
        (401, "SignatureDoesNotMatch", UpstreamAuthError),
        (401, "InvalidAccessKey", UpstreamAuthError),
        (401, "MissingAuthenticationToken", UpstreamAuthError),
        (403, "AccessDenied", UpstreamAuthError),
        (403, "LackPolicy", UpstreamAuthError),
        (400, "InvalidTimestamp", UpstreamAuthError),
        (404, "InvalidActionOrVersion", UpstreamBadRequest),
        (429, "FlowLimitExceeded", UpstreamRateLimited),
        (503, "ServiceUnavailable", UpstreamServerError),
    ],
)
def test_visual_gateway_errors(status: int, code: str, error_type: type[ProviderError]) -> None:
    payload = {"ResponseMetadata": {"RequestId": "r", "Action": "CVProcess", "Error": {"Code": code, "Message": "m"}},
               "code": 10000}
    error = visual_error(status, payload, b"")
    assert type(error) is error_type and error.upstream_code == code
    assert_chinese(error.message_zh, error.message, verbatim=[code])


def test_visual_signature_error_names_the_setting() -> None:
    payload = {"ResponseMetadata": {"Error": {"Code": "SignatureDoesNotMatch", "Message": "no"}}}
    error = visual_error(401, payload, b"")
    assert "VOLCENGINE_SECRET_KEY" in error.message and "VOLCENGINE_SECRET_KEY" in error.message_zh


@pytest.mark.parametrize(("status", "error_type"), [(200, UpstreamBadResponse), (502, UpstreamServerError),
                                                      (403, UpstreamAuthError), (429, UpstreamRateLimited)])
def test_visual_garbage(status: int, error_type: type[ProviderError]) -> None:
    error = visual_error(status, None, b"\x00garbage")
    assert type(error) is error_type
    assert_chinese(error.message_zh, error.message)


def test_messages_never_carry_keys_or_whole_bodies() -> None:
    secret = "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg"
    message = (
        f"Signature mismatch for Authorization: HMAC-SHA256 Credential=AKLTabcdefghijklmnop/20250115/cn-north-1/cv/request "
        f"secret {secret} bearer sk-live-123 key 6f1c2d3e-1111-2222-3333-444455556666 " + "x" * 500
    )
    payload = {"ResponseMetadata": {"Error": {"Code": "SignatureDoesNotMatch", "Message": message}}}
    error = visual_error(401, payload, json.dumps(payload).encode())
    for leaked in ("AKLTabcdefghijklmnop", secret, "sk-live-123", "6f1c2d3e-1111", "x" * 250):
        assert leaked not in error.message and leaked not in error.message_zh
    ark = ark_error(401, _ark("AuthenticationError", "密钥 ark-very-secret 无效"), {}, secrets=["ark-very-secret"])
    assert "ark-very-secret" not in ark.message and "ark-very-secret" not in ark.message_zh
    assert "密钥 [redacted] 无效" in ark.message_zh


def test_redact_keeps_request_ids_and_cuts_long_text() -> None:
    text = redact("Request ID: 2025061718460554C9B78D23B0BAB45B2A failed")
    assert "2025061718460554C9B78D23B0BAB45B2A" in text
    assert len(redact("y " * 400)) == EXCERPT_CHARS


class _FakeKey:
    host, port, ssl = "h", 1, None


@pytest.mark.parametrize(
    ("exc", "billed", "error_type", "flagged"),
    [
        (aiohttp.ConnectionTimeoutError(), True, UpstreamTimeout, False),
        (aiohttp.SocketTimeoutError(), True, UpstreamTimeout, True),
        (aiohttp.SocketTimeoutError(), False, UpstreamTimeout, False),
        (TimeoutError(), True, UpstreamTimeout, True),
        (aiohttp.ClientConnectorError(_FakeKey(), OSError(111, "refused")), True, UpstreamConnectionError, False),  # type: ignore[arg-type]
        (aiohttp.ServerDisconnectedError(), True, UpstreamConnectionError, True),
        (aiohttp.ClientPayloadError("cut"), True, UpstreamBadResponse, True),
    ],
)
def test_transport_errors(exc: BaseException, billed: bool, error_type: type[ProviderError], flagged: bool) -> None:
    error = transport_error(exc, service=ARK, billed=billed)
    assert type(error) is error_type
    assert error.retryable is True
    assert is_possibly_billed(error) is flagged


@pytest.mark.parametrize("service", [ARK, VISUAL, RESULT_HOST], ids=lambda s: s.en)
@pytest.mark.parametrize(
    "exc",
    [aiohttp.ConnectionTimeoutError(), aiohttp.ClientConnectorError(_FakeKey(), OSError(111, "refused")),  # type: ignore[arg-type]
     TimeoutError(), aiohttp.ClientPayloadError("cut"), aiohttp.ServerDisconnectedError()],
    ids=lambda e: type(e).__name__,
)
def test_transport_errors_name_the_service_in_both_languages(exc: BaseException, service: Service) -> None:
    error = transport_error(exc, service=service, billed=False)
    assert service.en.lower() in error.message.lower() and service.zh in error.message_zh
    assert_chinese(error.message_zh, error.message)
