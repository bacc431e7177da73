"""The error tree of the service.

Three families:
- ``AppError``: the caller's request cannot be served (bad input, unknown id, ...). Raised by
  services and routes, turned into ``{"error": {code, message, details?}}`` by one handler in
  ``app.api.errors``.
- ``ProviderError``: an upstream (Ark, Visual, result download) failed. Raised by providers,
  classified by the retry policy and stored on the task as ``{code, message, message_zh,
  retryable}``.
- ``StorageError``: the image store cannot write or read what it was given (full disk, unwritable
  volume, undecodable bytes). Never a ``ProviderError``, so catching upstream failures can never
  swallow a full disk.

Messages are written in English and Chinese so the API can answer in the caller's language. A job's
failure is stored on its task in both (``message`` and ``message_zh``) because it is read later by
clients in either language, so ``ProviderError`` and ``StorageError`` require both. Messages never
contain secrets or whole upstream bodies.
"""

from __future__ import annotations

from typing import Any


def _restore(cls: type[Exception], args: tuple[Any, ...], state: dict[str, Any]) -> Exception:
    error = cls.__new__(cls, *args)
    error.__dict__.update(state)
    return error


class _Picklable(Exception):
    """Errors cross process boundaries (image work runs in worker processes): pickle them with
    their fields, not by calling ``__init__`` again with keyword arguments it would miss."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.args, dict(self.__dict__)))


class AppError(_Picklable):
    """A request the service refuses, with an HTTP status and a stable machine-readable code."""

    status_code: int = 400
    code: str = "invalid_request"

    def __init__(
        self,
        message: str,
        *,
        message_zh: str | None = None,
        details: Any = None,
        code: str | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh or message
        self.details = details
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code

    def localized(self, zh: bool) -> str:
        return self.message_zh if zh else self.message


class InvalidRequest(AppError):
    status_code = 422
    code = "invalid_request"


class OperationNotSupported(InvalidRequest):
    """The model has no such edit operation (or the operation takes no such field)."""

    code = "operation_not_supported"


class InvalidMask(InvalidRequest):
    """An edit mask that cannot be used: another size or aspect than its source, or empty."""

    code = "invalid_mask"


class SourceTooLarge(InvalidRequest):
    """An edit's source image beyond the operation's input limits."""

    code = "source_too_large"


class ExpandOutOfRange(InvalidRequest):
    """An outpaint expansion outside the operation's bounds."""

    code = "expand_out_of_range"


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"

    @classmethod
    def over_limit(cls, limit: int) -> PayloadTooLarge:
        """A file found to be over ``limit`` bytes before it was read to its end."""
        mb = limit / (1024 * 1024)
        return cls(
            f"The file is larger than the {mb:g} MB limit.",
            message_zh=f"文件超过 {mb:g} MB 的上限。",
            details={"max_bytes": limit},
        )


class UnsupportedMediaType(AppError):
    status_code = 415
    code = "unsupported_media_type"


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"


class Forbidden(AppError):
    """Signed in, but this needs an admin (never used to hide another member's things: those are
    404, so that their existence does not show)."""

    status_code = 403
    code = "forbidden"


class RateLimited(AppError):
    status_code = 429
    code = "rate_limited"


class ModelUnavailable(AppError):
    status_code = 422
    code = "model_unavailable"


# --------------------------------------------------------------------------------------------
# Storage errors: the image store cannot do what was asked. AppErrors, so a request that meets one
# gets a clear 4xx/5xx; a job records ``to_dict()`` on its task.


class StorageError(AppError):
    status_code = 507
    code = "insufficient_storage"
    retryable: bool = True

    def __init__(self, message: str, *, message_zh: str, **kwargs: Any) -> None:
        super().__init__(message, message_zh=message_zh, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "message_zh": self.message_zh, "retryable": self.retryable}


class StorageFull(StorageError):
    """No room (or no permission) to write: the disk, not the request, must change."""


class StorageUnavailable(StorageError):
    """The object store did not answer, refused our credentials or lacks the bucket: the
    operator's configuration or the network, not the request, must change."""

    status_code = 503
    code = "storage_unavailable"


class DatabaseFull(StorageFull):
    """The database's volume has no room to record a change (SQLite "database or disk is full")."""

    def __init__(self) -> None:
        super().__init__(
            "The data volume is full: the database cannot record this change. Free space on the "
            "volume (or enlarge it), then try again.",
            message_zh="数据卷已满，数据库无法保存此更改。请释放磁盘空间（或扩容）后重试。",
        )


class ImageUnreadable(StorageError):
    """Bytes handed to the store are not a whole image it can decode."""

    status_code = 422
    code = "invalid_image"

    def __init__(self, message: str, *, message_zh: str, retryable: bool = True, **kwargs: Any) -> None:
        super().__init__(message, message_zh=message_zh, **kwargs)
        self.retryable = retryable


# --------------------------------------------------------------------------------------------
# Upstream errors


class ProviderError(_Picklable):
    """An upstream failure. ``code`` is one of the API error codes (DESIGN.md section 5)."""

    code: str = "upstream_error"
    retryable: bool = False
    # Failed after a billed generation request reached the upstream: retry at most once.
    possibly_billed: bool = False

    def __init__(
        self,
        message: str,
        *,
        message_zh: str,
        upstream_code: str | None = None,
        status: int | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh
        # The upstream's own code (e.g. "50429", "OutputImageSensitiveContentDetected"): kept for
        # logs and the task record, never shown raw as the only explanation.
        self.upstream_code = upstream_code
        self.status = status
        if retryable is not None:
            self.retryable = retryable
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "message_zh": self.message_zh,
            "retryable": self.retryable,
        }
        if self.upstream_code:
            data["upstream_code"] = self.upstream_code
        return data


class UpstreamAuthError(ProviderError):
    code = "upstream_auth_failed"


class UpstreamRateLimited(ProviderError):
    code = "upstream_rate_limited"
    retryable = True


class ContentModeration(ProviderError):
    code = "content_moderation"

    def __init__(self, message: str, *, message_zh: str, stage: str = "input", **kwargs: Any) -> None:
        super().__init__(message, message_zh=message_zh, **kwargs)
        # "input" (prompt / reference image refused) or "output" (generated image refused)
        self.stage = stage

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["stage"] = self.stage
        return data


class UpstreamTimeout(ProviderError):
    code = "upstream_timeout"
    retryable = True


class UpstreamBadRequest(ProviderError):
    """The upstream refused the parameters (400 InvalidParameter, 50200...)."""

    code = "upstream_error"


class UpstreamServerError(ProviderError):
    code = "upstream_error"
    retryable = True


class UpstreamBadResponse(ProviderError):
    """Garbage, truncated or unexpected body."""

    code = "upstream_error"
    retryable = True


class UpstreamConnectionError(ProviderError):
    code = "upstream_error"
    retryable = True


class UpstreamTaskLost(ProviderError):
    """An async upstream task is gone (``not_found`` / ``expired``)."""

    code = "upstream_error"


class StartupRefused(RuntimeError):
    """The service will not start on this data: starting would hide a problem (a lost database)."""


class JobCancelled(Exception):
    """Raised inside a running job when the user cancelled it."""
