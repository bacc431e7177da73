"""Volcengine signature V4 (HMAC-SHA256) for the Visual API.

Our own implementation of what ``volcengine.auth.SignerV4.sign`` does (SDK 1.0.229), checked
against the official known-answer vectors in ``shared/volcengine/sigv4-vectors.json``. The rules
are spelled out in ``shared/volcengine-api.md`` section 3; the comments here only explain where we
deliberately differ from the SDK or where the SDK's behaviour is surprising.

Usage: serialise the body once, sign those exact bytes, then send ``signed.headers`` and
``?{signed.query_string}`` verbatim. Sign again for every attempt (fresh ``X-Date``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

ALGORITHM = "HMAC-SHA256"
# The SDK's default for a body-carrying request that names no type; it is signed like any other.
DEFAULT_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"

_X_DATE_RE = re.compile(r"^\d{8}T\d{6}Z$")
# Names (lower-cased) that are signed besides every ``x-*`` header.
_SIGNED_NAMES = frozenset({"content-type", "content-md5", "host"})
_DEFAULT_PORTS = (":80", ":443")


@dataclass(frozen=True, slots=True)
class SignedRequest:
    headers: dict[str, str]
    query_string: str
    canonical_request: str
    string_to_sign: str
    signature: str
    signed_headers: str
    credential_scope: str
    authorization: str


def format_x_date(dt: datetime) -> str:
    """``YYYYMMDDTHHMMSSZ`` in UTC; a naive datetime is taken to already be UTC."""
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC)
    return dt.strftime("%Y%m%dT%H%M%SZ")


def _encode(value: str, *, keep_slash: bool) -> str:
    # quote() always keeps A-Z a-z 0-9 - _ . ~ and emits upper-case hex over UTF-8 bytes; space
    # becomes %20 (never "+", unlike form encoding).
    return quote(value, safe="/" if keep_slash else "", encoding="utf-8", errors="strict")


def canonical_query(query: Sequence[tuple[str, str]]) -> str:
    """Canonical query string, also the exact string to put on the wire.

    Sorted by raw key in code-point order; the sort is stable so a repeated key keeps its values in
    the original request order, as the SDK and the official doc do.
    """
    ordered = sorted(query, key=lambda pair: pair[0])
    return "&".join(f"{_encode(k, keep_slash=False)}={_encode(v, keep_slash=False)}" for k, v in ordered)


def canonical_uri(path: str) -> str:
    return _encode(path or "/", keep_slash=True)


def _strip_default_port(host: str) -> str:
    for suffix in _DEFAULT_PORTS:
        if host.endswith(suffix):
            return host[: -len(suffix)]
    return host


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def _signing_key(secret_key: str, date8: str, region: str, service: str) -> bytes:
    k_date = _hmac(secret_key.encode("utf-8"), date8)
    k_region = _hmac(k_date, region)
    k_service = _hmac(k_region, service)
    return _hmac(k_service, "request")


class _Headers:
    """Case-insensitive, insertion-ordered header set that keeps the caller's spelling.

    The SDK matches ``Content-Type``/``Host`` case-sensitively, so a caller passing
    ``content-type`` would get a second, default Content-Type header from it. Matching
    case-insensitively gives the SDK's result for canonically spelled names and a sane one for
    the rest.
    """

    def __init__(self, initial: Mapping[str, str]) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in initial.items():
            if name.lower() in self._items:
                raise ValueError(f"header {name!r} given twice (names are case-insensitive)")
            self.set(name, value)

    def get(self, name: str) -> str | None:
        item = self._items.get(name.lower())
        return item[1] if item else None

    def set(self, name: str, value: str) -> None:
        if "\r" in value or "\n" in value:
            raise ValueError(f"header {name!r} contains a line break")
        key = name.lower()
        existing = self._items.get(key)
        # Replacing keeps the original spelling and position so the output mirrors the input.
        self._items[key] = (existing[0] if existing else name, value)

    def lower_items(self) -> list[tuple[str, str]]:
        return [(key, value) for key, (_, value) in self._items.items()]

    def to_dict(self) -> dict[str, str]:
        return {name: value for name, value in self._items.values()}


def sign_request(
    *,
    method: str,
    host: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
    access_key: str,
    secret_key: str,
    region: str,
    service: str,
    x_date: str | None = None,
    session_token: str | None = None,
) -> SignedRequest:
    """Sign one request. ``host`` is the authority the request goes to (a ``Host`` header in
    ``headers`` is overridden by it); ``x_date`` defaults to now."""
    method = method.upper()
    if x_date is None:
        x_date = format_x_date(datetime.now(UTC))
    elif not _X_DATE_RE.match(x_date):
        raise ValueError(f"x_date must look like 20250115T083000Z, got {x_date!r}")

    hdrs = _Headers(headers)
    # The server rebuilds the canonical host without a default port; send what we sign.
    hdrs.set("Host", _strip_default_port(host))
    if method != "GET" and hdrs.get("Content-Type") is None:
        hdrs.set("Content-Type", DEFAULT_CONTENT_TYPE)
    hdrs.set("X-Date", x_date)
    if session_token:
        hdrs.set("X-Security-Token", session_token)
    body_hash = hashlib.sha256(body).hexdigest()
    hdrs.set("X-Content-Sha256", body_hash)

    signed = sorted(
        (name, value) for name, value in hdrs.lower_items() if name in _SIGNED_NAMES or name.startswith("x-")
    )
    signed_headers = ";".join(name for name, _ in signed)
    header_block = "".join(f"{name}:{value}\n" for name, value in signed)
    query_string = canonical_query(query)
    canonical_request = "\n".join(
        [method, canonical_uri(path), query_string, header_block, signed_headers, body_hash]
    )

    date8 = x_date[:8]
    credential_scope = f"{date8}/{region}/{service}/request"
    string_to_sign = "\n".join(
        [ALGORITHM, x_date, credential_scope, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()]
    )
    signature = hmac.new(
        _signing_key(secret_key, date8, region, service), string_to_sign.encode("utf-8"), hashlib.sha256
    ).hexdigest()
    authorization = (
        f"{ALGORITHM} Credential={access_key}/{credential_scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )
    hdrs.set("Authorization", authorization)

    return SignedRequest(
        headers=hdrs.to_dict(),
        query_string=query_string,
        canonical_request=canonical_request,
        string_to_sign=string_to_sign,
        signature=signature,
        signed_headers=signed_headers,
        credential_scope=credential_scope,
        authorization=authorization,
    )
