"""One place that turns exceptions into ``{"error": {code, message, details?}}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.deps import prefers_zh
from app.core.errors import AppError

logger = logging.getLogger("app.api")

_HTTP_CODES = {
    400: ("invalid_request", "The request is malformed.", "请求格式不正确。"),
    401: ("unauthorized", "Sign in first.", "请先登录。"),
    403: ("unauthorized", "You are not allowed to do this.", "无权执行此操作。"),
    404: ("not_found", "Nothing here.", "资源不存在。"),
    405: ("invalid_request", "This method is not allowed here.", "不支持该请求方法。"),
    413: ("payload_too_large", "The request body is too large.", "请求体过大。"),
    415: ("unsupported_media_type", "Unsupported content type.", "不支持的内容类型。"),
    429: ("rate_limited", "Too many requests; slow down.", "请求过于频繁，请稍后再试。"),
}


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


# OpenAI's error ``type`` for each HTTP status (its Images API answers these).
_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "requests",
}


def openai_error_response(
    status: int, message: str, code: str | None, *, param: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """``{"error": {"message", "type", "param", "code"}}``: what OpenAI's SDKs parse."""
    kind = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    if code == "insufficient_quota":
        kind = "insufficient_quota"
    body = {"message": message, "type": kind, "param": param, "code": code}
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _openai_app_error(exc: AppError, zh: bool, headers: dict[str, str] | None) -> JSONResponse:
    # OpenAI answers invalid parameters with 400 (we use 422), and a spent quota with 429.
    status = 400 if exc.status_code == 422 else exc.status_code
    code = exc.code
    if exc.code == "budget_exceeded":
        status, code = 429, "insufficient_quota"
    elif exc.code == "rate_limited":
        code = "rate_limit_exceeded"
    elif exc.code == "model_unavailable" or (exc.code == "invalid_request" and _param(exc) == "model"):
        code = "model_not_found"
    return openai_error_response(status, exc.localized(zh), code, param=_param(exc), headers=headers)


def _param(exc: AppError) -> str | None:
    field = exc.details.get("field") if isinstance(exc.details, dict) else None
    return field if isinstance(field, str) else None


def _openai(request: Request) -> bool:
    return request.url.path.startswith("/v1/")


# Pydantic's messages for the Chinese UI, by error type (its own are English only); a type not
# listed keeps pydantic's wording.
_VALIDATION_ZH = {
    "missing": "必填。",
    "extra_forbidden": "不是可接受的字段。",
    "greater_than": "须大于 {gt}。",
    "greater_than_equal": "须大于或等于 {ge}。",
    "less_than": "须小于 {lt}。",
    "less_than_equal": "须小于或等于 {le}。",
    "int_parsing": "须为整数。",
    "int_type": "须为整数。",
    "int_from_float": "须为整数。",
    "bool_parsing": "须为 true 或 false。",
    "bool_type": "须为 true 或 false。",
    "string_type": "须为文本。",
    "string_too_short": "至少 {min_length} 个字符。",
    "string_too_long": "最多 {max_length} 个字符。",
    "string_pattern_mismatch": "含有不允许的字符。",
    "list_type": "须为列表。",
    "too_short": "至少 {min_length} 项。",
    "too_long": "最多 {max_length} 项。",
    "literal_error": "须为以下之一：{expected}。",
    "enum": "须为以下之一：{expected}。",
    "value_error": "取值无效。",
    "datetime_parsing": "须为 ISO 8601 时间。",
    "datetime_from_date_parsing": "须为 ISO 8601 时间。",
    "model_attributes_type": "须为对象。",
    "dict_type": "须为对象。",
}


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    name = ""
    for part in parts:
        name += f"[{part}]" if part.isdigit() else (f".{part}" if name else part)
    return name or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        headers = {"Retry-After": str(int(exc.details["retry_after"]) + 1)} if (
            exc.code == "rate_limited" and isinstance(exc.details, dict) and "retry_after" in exc.details
        ) else None
        if _openai(request):
            return _openai_app_error(exc, prefers_zh(request), headers)
        return error_response(exc.status_code, exc.code, exc.localized(prefers_zh(request)), exc.details, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        zh = prefers_zh(request)
        problems = []
        for err in exc.errors():
            field = _field_name(tuple(err.get("loc", ())))
            kind = err.get("type", "")
            if kind == "json_invalid":
                msg = "请求体不是有效的 JSON。" if zh else "The request body is not valid JSON."
            elif zh and kind in _VALIDATION_ZH:
                ctx = {k: str(v).replace(" or ", "、").replace(", ", "、") for k, v in (err.get("ctx") or {}).items()}
                msg = f"{field}：" + _VALIDATION_ZH[kind].format(**ctx)
            else:
                msg = f"{field}: {err.get('msg', 'invalid value')}"
            problems.append({"field": field, "type": kind, "message": msg})
        first = problems[0]["message"] if problems else ("请求无效。" if zh else "Invalid request.")
        prefix = "参数有误：" if zh else "Invalid request: "
        message = first if first.startswith(("请求体", "The request body")) else prefix + first
        if _openai(request):
            return openai_error_response(400, message, "invalid_request", param=problems[0]["field"] if problems else None)
        return error_response(422, "invalid_request", message, {"field": problems[0]["field"] if problems else None, "errors": problems})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, en, zh = _HTTP_CODES.get(exc.status_code, ("invalid_request", "Request refused.", "请求被拒绝。"))
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail and exc.status_code != 404 else None
        message = detail or (zh if prefers_zh(request) else en)
        if _openai(request):
            return openai_error_response(exc.status_code, message, code, headers=getattr(exc, "headers", None))
        return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("api.unexpected_error", extra={"path": request.url.path})
        zh = prefers_zh(request)
        if _openai(request):
            return openai_error_response(
                500, "服务器内部错误，已记录日志。" if zh else "Internal server error; it has been logged.", "internal_error"
            )
        return error_response(
            500,
            "internal_error",
            "服务器内部错误，已记录日志。" if zh else "Internal server error; it has been logged.",
        )
