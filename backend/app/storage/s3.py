"""A small, synchronous S3 client: AWS signature V4 over httpx, the calls the image store makes.

Why not boto3 or aiobotocore: the store runs in worker processes and threads, synchronously
(``app.storage.offload``), so an async client buys nothing; boto3 adds ~90 MB of dependencies, ~0.3 s
of import per worker process and a second HTTP stack beside httpx, for a dozen calls we can sign
ourselves (the project already signs Volcengine's V4 variant). Figures: ``bench/s3_client.py``.

Works with any S3-compatible service: AWS S3, MinIO, Volcengine TOS (its S3 endpoint
``tos-s3-<region>.volces.com`` speaks AWS V4 and wants virtual-host addressing).

Objects are written by a single PUT (atomic: a reader sees no object or the whole one) or, above
``multipart_threshold``, by a multipart upload that is aborted on any failure (its parts are
never visible as an object). Secrets never leave this module except inside signatures.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import partial
from pathlib import Path
from typing import BinaryIO, Literal
from urllib.parse import quote, urlsplit

import httpx
from pydantic import SecretStr

from app.core.errors import StorageUnavailable

logger = logging.getLogger(__name__)

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
# S3's minimum part size is 5 MiB (except the last part).
MIN_PART_SIZE = 5 * 1024 * 1024
STREAM_CHUNK = 1024 * 1024

Addressing = Literal["path", "virtual"]


@dataclass(frozen=True, slots=True)
class S3Config:
    endpoint: str
    bucket: str
    region: str
    access_key_id: SecretStr
    secret_access_key: SecretStr
    prefix: str = ""
    addressing: Addressing = "path"
    presign_seconds: int = 300
    multipart_threshold: int = 16 * 1024 * 1024
    part_size: int = 8 * 1024 * 1024
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.part_size < MIN_PART_SIZE:
            raise ValueError(f"S3 part size must be at least {MIN_PART_SIZE} bytes")
        parts = urlsplit(self.endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"S3 endpoint must be an http(s) URL, not {self.endpoint!r}")

    def key(self, name: str) -> str:
        """The object key of a store-relative name, under the configured prefix."""
        prefix = self.prefix.strip("/")
        return f"{prefix}/{name}" if prefix else name

    def origin(self) -> str:
        """scheme://host[:port] that object URLs (and so presigned URLs) point at."""
        parts = urlsplit(self.endpoint)
        host = parts.netloc
        if self.addressing == "virtual":
            host = f"{self.bucket}.{host}"
        return f"{parts.scheme}://{host}"


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    modified: datetime


class ObjectReader:
    """An object's body as a file-like ``read(n)`` over one streamed response: memory stays at
    one chunk, whatever the object's size."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._chunks = response.iter_bytes(STREAM_CHUNK)
        self._buffer = b""
        self.size = int(response.headers.get("content-length", "0"))
        self.modified = _http_date(response.headers.get("last-modified"))

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buffer) < n:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if n < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def close(self) -> None:
        self._response.close()


@dataclass(slots=True)
class _Signer:
    config: S3Config
    service: str = "s3"
    _keys: dict[str, bytes] = field(default_factory=dict)

    def _signing_key(self, date8: str) -> bytes:
        key = self._keys.get(date8)
        if key is None:
            secret = self.config.secret_access_key.get_secret_value()
            k = _hmac(("AWS4" + secret).encode(), date8)
            k = _hmac(k, self.config.region)
            k = _hmac(k, self.service)
            key = _hmac(k, "aws4_request")
            self._keys = {date8: key}  # one day's key; the old one is never needed again
        return key

    def _scope(self, date8: str) -> str:
        return f"{date8}/{self.config.region}/{self.service}/aws4_request"

    def signature(self, method: str, host: str, path: str, query: list[tuple[str, str]],
                  headers: dict[str, str], payload_hash: str, amz_date: str) -> tuple[str, str]:
        """(signed header names, signature) for one request."""
        names = sorted({"host", *(name.lower() for name in headers)})
        values = {"host": host, **{name.lower(): " ".join(value.split()) for name, value in headers.items()}}
        canonical = "\n".join(
            [
                method,
                quote(path, safe="/~"),
                canonical_query(query),
                "".join(f"{name}:{values[name]}\n" for name in names),
                ";".join(names),
                payload_hash,
            ]
        )
        to_sign = "\n".join(
            [ALGORITHM, amz_date, self._scope(amz_date[:8]), hashlib.sha256(canonical.encode()).hexdigest()]
        )
        signature = hmac.new(self._signing_key(amz_date[:8]), to_sign.encode(), hashlib.sha256).hexdigest()
        return ";".join(names), signature

    def credential(self, date8: str) -> str:
        return f"{self.config.access_key_id.get_secret_value()}/{self._scope(date8)}"


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def canonical_query(query: list[tuple[str, str]]) -> str:
    encoded = sorted((quote(k, safe="~"), quote(v, safe="~")) for k, v in query)
    return "&".join(f"{k}={v}" for k, v in encoded)


def amz_date(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


class S3Client:
    """One bucket. Safe to share between threads (httpx.Client is); one per process."""

    def __init__(self, config: S3Config, *, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        self._signer = _Signer(config)
        self._http = httpx.Client(timeout=config.timeout, transport=transport, follow_redirects=False)
        parts = urlsplit(config.endpoint)
        self._scheme = parts.scheme
        self._base_path = parts.path.rstrip("/")
        self._host = parts.netloc if config.addressing == "path" else f"{config.bucket}.{parts.netloc}"
        self._host_for_signing = _strip_default_port(self._host, parts.scheme)

    def close(self) -> None:
        self._http.close()

    def __getstate__(self) -> S3Config:
        # Worker processes get the settings and open their own connections.
        return self.config

    def __setstate__(self, config: S3Config) -> None:
        self.__init__(config)  # type: ignore[misc]

    # --- requests -------------------------------------------------------------------------------
    def _path(self, key: str | None) -> str:
        bucket = f"/{self.config.bucket}" if self.config.addressing == "path" else ""
        return f"{self._base_path}{bucket}/{key}" if key is not None else f"{self._base_path}{bucket}/"

    def _request(
        self,
        method: str,
        key: str | None,
        *,
        query: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        stream: bool = False,
        ok: tuple[int, ...] = (200,),
        upload: tuple[BinaryIO, int, str] | None = None,
    ) -> httpx.Response:
        """``upload``: (file, size, sha256) sent from the file in chunks instead of ``body``."""
        query = query or []
        path = self._path(key)
        if upload is not None:
            payload_hash = upload[2]
            headers = {**(headers or {}), "content-length": str(upload[1])}
        else:
            payload_hash = hashlib.sha256(body).hexdigest() if body else _EMPTY_SHA256
        date = amz_date(datetime.now(UTC))
        signed = {"x-amz-content-sha256": payload_hash, "x-amz-date": date, **(headers or {})}
        names, signature = self._signer.signature(
            method, self._host_for_signing, path, query, signed, payload_hash, date
        )
        signed["Authorization"] = (
            f"{ALGORITHM} Credential={self._signer.credential(date[:8])}, SignedHeaders={names}, Signature={signature}"
        )
        url = f"{self._scheme}://{self._host}{quote(path, safe='/~')}"
        if query:
            url += "?" + canonical_query(query)
        content: bytes | Iterator[bytes] | None = body or None
        if upload is not None:
            content = iter(partial(upload[0].read, STREAM_CHUNK), b"")
        request = self._http.build_request(method, url, content=content, headers=signed)
        try:
            response = self._http.send(request, stream=stream)
        except httpx.HTTPError as exc:
            raise _unavailable(f"{type(exc).__name__}") from None
        if response.status_code not in ok:
            if stream:
                response.read()
                response.close()
            raise _error_for(response)
        return response

    # --- objects --------------------------------------------------------------------------------
    def put(self, name: str, data: bytes, content_type: str) -> None:
        """Store ``data`` whole, or leave nothing visible (multipart is aborted on failure)."""
        key = self.config.key(name)
        if len(data) <= self.config.multipart_threshold:
            self._request("PUT", key, body=data, headers={"content-type": content_type})
            return
        self._put_multipart(key, io.BytesIO(data), content_type)

    def put_file(self, name: str, path: Path, *, size: int, sha256: str, content_type: str) -> None:
        """Store a file whose hash is known, read in chunks (an upload is never held whole)."""
        with path.open("rb") as fh:
            if size > self.config.multipart_threshold:
                self._put_multipart(self.config.key(name), fh, content_type)
            else:
                self._request(
                    "PUT", self.config.key(name), headers={"content-type": content_type}, upload=(fh, size, sha256)
                )

    def _put_multipart(self, key: str, source: BinaryIO, content_type: str) -> None:
        """Parts of ``part_size`` read from ``source`` one at a time; aborted on any failure."""
        created = self._request("POST", key, query=[("uploads", "")], headers={"content-type": content_type})
        upload_id = _xml_text(created.content, "UploadId")
        try:
            etags: list[str] = []
            number = 0
            while part := source.read(self.config.part_size):
                number += 1
                answer = self._request(
                    "PUT", key, query=[("partNumber", str(number)), ("uploadId", upload_id)], body=part
                )
                etags.append(answer.headers.get("etag", ""))
            body = "<CompleteMultipartUpload>" + "".join(
                f"<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>" for n, etag in enumerate(etags, start=1)
            ) + "</CompleteMultipartUpload>"
            done = self._request("POST", key, query=[("uploadId", upload_id)], body=body.encode())
            # S3 may answer 200 and report the failure in the body (a long completion).
            if b"<Error>" in done.content[:512]:
                raise _unavailable(f"multipart completion failed: {_xml_text(done.content, 'Code')}")
        except BaseException:
            self.abort(key, upload_id)
            raise

    def abort(self, key: str, upload_id: str) -> None:
        try:
            self._request("DELETE", key, query=[("uploadId", upload_id)], ok=(204, 200, 404))
        except StorageUnavailable as exc:
            # The bucket's lifecycle rule (or clean_incomplete) removes what is left.
            logger.warning("s3.abort_failed", extra={"error": exc.message})

    def get(self, name: str) -> bytes | None:
        """The object's bytes, or None when there is no such object."""
        response = self._request("GET", self.config.key(name), ok=(200, 404))
        return None if response.status_code == 404 else response.content

    def open(self, name: str) -> ObjectReader | None:
        """A streamed GET to read in chunks (close it), or None when there is no such object."""
        response = self._request("GET", self.config.key(name), stream=True, ok=(200, 404))
        if response.status_code == 404:
            response.read()
            response.close()
            return None
        return ObjectReader(response)

    def head(self, name: str) -> ObjectInfo | None:
        response = self._request("HEAD", self.config.key(name), ok=(200, 404))
        if response.status_code == 404:
            return None
        return ObjectInfo(
            name, int(response.headers.get("content-length", "0")), _http_date(response.headers.get("last-modified"))
        )

    def delete(self, name: str) -> None:
        """Remove an object; a missing one is fine (S3 answers 204 either way)."""
        self._request("DELETE", self.config.key(name), ok=(204, 200, 404))

    def list_objects(self, under: str = "") -> Iterator[ObjectInfo]:
        """Every object whose store-relative name starts with ``under``, in key order."""
        prefix = self.config.key(under) if under else (self.config.prefix.strip("/") + "/" if self.config.prefix.strip("/") else "")
        strip = len(self.config.key(""))
        token: str | None = None
        while True:
            query = [("list-type", "2"), ("prefix", prefix)]
            if token:
                query.append(("continuation-token", token))
            root = ET.fromstring(self._request("GET", None, query=query).content)
            for item in root.iter(f"{_NS}Contents"):
                key = item.findtext(f"{_NS}Key") or ""
                yield ObjectInfo(
                    key[strip:],
                    int(item.findtext(f"{_NS}Size") or 0),
                    datetime.fromisoformat((item.findtext(f"{_NS}LastModified") or "1970-01-01T00:00:00Z").replace("Z", "+00:00")),
                )
            if (root.findtext(f"{_NS}IsTruncated") or "false") != "true":
                return
            token = root.findtext(f"{_NS}NextContinuationToken")

    def incomplete_uploads(self) -> list[tuple[str, str, datetime]]:
        """(key, upload id, started) of multipart uploads never completed nor aborted."""
        prefix = self.config.key("")
        root = ET.fromstring(self._request("GET", None, query=[("uploads", ""), ("prefix", prefix)]).content)
        found = []
        for item in root.iter(f"{_NS}Upload"):
            started = (item.findtext(f"{_NS}Initiated") or "1970-01-01T00:00:00Z").replace("Z", "+00:00")
            found.append((item.findtext(f"{_NS}Key") or "", item.findtext(f"{_NS}UploadId") or "", datetime.fromisoformat(started)))
        return found

    def check_bucket(self) -> str | None:
        """None when the bucket answers to our credentials, else why not (for /health)."""
        try:
            answer = self._request("HEAD", None, ok=(200, 301, 400, 403, 404))
        except StorageUnavailable as exc:
            return exc.message
        # A HEAD answer has no body to name the error: the status says it.
        return {
            200: None,
            301: "HTTP 301: the bucket is in another region or wants another endpoint (S3_REGION, S3_ENDPOINT)",
            400: "HTTP 400: the request was refused (S3_REGION, S3_ADDRESSING_STYLE)",
            403: "HTTP 403 AccessDenied: check S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY and the bucket's policy",
            404: "HTTP 404 NoSuchBucket",
        }[answer.status_code]

    # --- presigned URLs -------------------------------------------------------------------------
    def presign_get(self, name: str, *, now: datetime | None = None, seconds: int | None = None,
                    cache_control: str | None = None) -> str:
        """A GET URL for one object that works without credentials until it expires."""
        moment = now or datetime.now(UTC)
        date = amz_date(moment)
        path = self._path(self.config.key(name))
        query = [
            ("X-Amz-Algorithm", ALGORITHM),
            ("X-Amz-Credential", self._signer.credential(date[:8])),
            ("X-Amz-Date", date),
            ("X-Amz-Expires", str(seconds or self.config.presign_seconds)),
            ("X-Amz-SignedHeaders", "host"),
        ]
        if cache_control:
            query.append(("response-cache-control", cache_control))
        _names, signature = self._signer.signature(
            "GET", self._host_for_signing, path, query, {}, UNSIGNED_PAYLOAD, date
        )
        return f"{self._scheme}://{self._host}{quote(path, safe='/~')}?{canonical_query(query)}&X-Amz-Signature={signature}"


def _strip_default_port(host: str, scheme: str) -> str:
    default = ":443" if scheme == "https" else ":80"
    return host[: -len(default)] if host.endswith(default) else host


def _http_date(value: str | None) -> datetime:
    if not value:
        return datetime.fromtimestamp(0, UTC)
    try:
        return parsedate_to_datetime(value).astimezone(UTC)
    except (TypeError, ValueError):
        return datetime.fromtimestamp(0, UTC)


def _xml_text(body: bytes, tag: str) -> str:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return ""
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == tag:
            return element.text or ""
    return ""


def _unavailable(reason: str) -> StorageUnavailable:
    return StorageUnavailable(
        f"The object store cannot be reached or refused the request: {reason}",
        message_zh=f"对象存储无法访问或拒绝了请求：{reason}",
    )


def _error_for(response: httpx.Response) -> StorageUnavailable:
    # The S3 error code only (NoSuchBucket, AccessDenied, SignatureDoesNotMatch): never the body,
    # which may echo our request.
    code = _xml_text(response.content, "Code") if response.content else ""
    return _unavailable(f"HTTP {response.status_code}{' ' + code if code else ''}")
