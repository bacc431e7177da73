"""Signature V4: the official known-answer vectors plus the rules they do not cover."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from app.providers.signing import (
    DEFAULT_CONTENT_TYPE,
    SignedRequest,
    canonical_query,
    format_x_date,
    sign_request,
)

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
AK = "AKLTunitTestAccessKey"
SK = "unit-test-secret"
X_DATE = "20250115T083000Z"


def _vectors_path() -> Path:
    override = os.environ.get("SIGV4_VECTORS")
    if override:
        return Path(override)
    # The shared folder is a sibling of the clone: <parent>/main/backend/tests/providers/<this>.
    return Path(__file__).resolve().parents[3].parent / "shared" / "volcengine" / "sigv4-vectors.json"


def _load_vectors() -> list[dict[str, Any]]:
    path = _vectors_path()
    if not path.is_file():
        raise FileNotFoundError(f"signature vectors not found at {path} (set SIGV4_VECTORS)")
    return json.loads(path.read_text(encoding="utf-8"))["vectors"]


VECTORS = _load_vectors()


def _sign_vector(vector: dict[str, Any]) -> SignedRequest:
    return sign_request(
        method=vector["method"],
        host=vector["host"],
        path=vector["path"],
        query=[(k, v) for k, v in vector["query"]],
        headers=vector["headers"],
        body=vector["body"].encode("utf-8"),
        access_key=vector["access_key"],
        secret_key=vector["secret_key"],
        region=vector["region"],
        service=vector["service"],
        x_date=vector["x_date"],
    )


def test_vectors_file_is_not_empty() -> None:
    assert len(VECTORS) >= 4


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_official_vector(vector: dict[str, Any]) -> None:
    signed = _sign_vector(vector)
    expected = vector["expected"]
    assert signed.canonical_request == expected["canonical_request"]
    assert signed.string_to_sign == expected["string_to_sign"]
    assert signed.signature == expected["signature"]
    assert signed.signed_headers == expected["signed_headers"]
    assert signed.credential_scope == expected["credential_scope"]
    assert signed.authorization == expected["authorization"]
    assert signed.headers == expected["headers_after_signing"]
    assert signed.headers["X-Date"] == expected["x_date"]
    assert signed.headers["X-Content-Sha256"] == expected["x_content_sha256"]
    # The string put on the wire is the canonical one (line 3 of the canonical request).
    assert signed.query_string == expected["canonical_request"].split("\n")[2]


def test_signing_does_not_mutate_the_callers_headers() -> None:
    vector = VECTORS[0]
    before = dict(vector["headers"])
    _sign_vector(vector)
    assert vector["headers"] == before


# ---------------------------------------------------------------------------------------------
# Rules outside the vectors. Expected canonical requests are written out by hand; the signature
# is derived from that literal text with hashlib/hmac directly (an independent reference of
# steps 7-10), never from the module under test.


def _reference_signature(canonical_request: str, *, x_date: str, region: str, service: str) -> tuple[str, str]:
    date8 = x_date[:8]
    scope = f"{date8}/{region}/{service}/request"
    sts = f"HMAC-SHA256\n{x_date}\n{scope}\n" + hashlib.sha256(canonical_request.encode()).hexdigest()
    key = SK.encode()
    for part in (date8, region, service, "request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return sts, hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


def _sign(**overrides: Any) -> SignedRequest:
    args: dict[str, Any] = {
        "method": "POST",
        "host": "visual.volcengineapi.com",
        "path": "/",
        "query": [],
        "headers": {},
        "body": b"",
        "access_key": AK,
        "secret_key": SK,
        "region": "cn-north-1",
        "service": "cv",
        "x_date": X_DATE,
    }
    args.update(overrides)
    return sign_request(**args)


CASES: list[tuple[str, dict[str, Any], str, dict[str, str]]] = [
    (
        "post-without-content-type-gets-sdk-default",
        {"headers": {}, "query": [("Action", "CVProcess")]},
        "POST\n/\nAction=CVProcess\n"
        "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
        "host:visual.volcengineapi.com\n"
        f"x-content-sha256:{EMPTY_SHA256}\n"
        f"x-date:{X_DATE}\n"
        "\ncontent-type;host;x-content-sha256;x-date\n"
        f"{EMPTY_SHA256}",
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    ),
    (
        "get-without-content-type-stays-unsigned",
        {"method": "GET", "headers": {}},
        "GET\n/\n\n"
        "host:visual.volcengineapi.com\n"
        f"x-content-sha256:{EMPTY_SHA256}\n"
        f"x-date:{X_DATE}\n"
        "\nhost;x-content-sha256;x-date\n"
        f"{EMPTY_SHA256}",
        {},
    ),
    (
        "host-port-443-dropped",
        {"method": "GET", "host": "visual.volcengineapi.com:443"},
        "GET\n/\n\n"
        "host:visual.volcengineapi.com\n"
        f"x-content-sha256:{EMPTY_SHA256}\n"
        f"x-date:{X_DATE}\n"
        "\nhost;x-content-sha256;x-date\n"
        f"{EMPTY_SHA256}",
        {"Host": "visual.volcengineapi.com"},
    ),
    (
        "host-port-80-dropped",
        {"method": "GET", "host": "127.0.0.1:80"},
        "GET\n/\n\n"
        "host:127.0.0.1\n"
        f"x-content-sha256:{EMPTY_SHA256}\n"
        f"x-date:{X_DATE}\n"
        "\nhost;x-content-sha256;x-date\n"
        f"{EMPTY_SHA256}",
        {"Host": "127.0.0.1"},
    ),
    (
        "host-other-port-kept",
        {"method": "GET", "host": "127.0.0.1:8443"},
        "GET\n/\n\n"
        "host:127.0.0.1:8443\n"
        f"x-content-sha256:{EMPTY_SHA256}\n"
        f"x-date:{X_DATE}\n"
        "\nhost;x-content-sha256;x-date\n"
        f"{EMPTY_SHA256}",
        {"Host": "127.0.0.1:8443"},
    ),
    (
        "repeated-keys-keep-request-order-and-sort-by-code-point",
        {"method": "GET", "query": [("b", "2"), ("a", "z"), ("B", "x"), ("a", "b"), ("a", "m")]},
        "GET\n/\nB=x&a=z&a=b&a=m&b=2\n"
        "host:visual.volcengineapi.com\n"
        f"x-content-sha256:{EMPTY_SHA256}\n"
        f"x-date:{X_DATE}\n"
        "\nhost;x-content-sha256;x-date\n"
        f"{EMPTY_SHA256}",
        {},
    ),
    (
        "path-encoded-slash-kept-query-reserved-escaped",
        {
            "method": "GET",
            "path": "/a b/c+d*/é~",
            "query": [("k=&", "v/ +*~"), ("empty", ""), ("名", "值")],
        },
        "GET\n/a%20b/c%2Bd%2A/%C3%A9~\n"
        "empty=&k%3D%26=v%2F%20%2B%2A~&%E5%90%8D=%E5%80%BC\n"
        "host:visual.volcengineapi.com\n"
        f"x-content-sha256:{EMPTY_SHA256}\n"
        f"x-date:{X_DATE}\n"
        "\nhost;x-content-sha256;x-date\n"
        f"{EMPTY_SHA256}",
        {},
    ),
    (
        "empty-path-is-root",
        {"method": "GET", "path": ""},
        "GET\n/\n\n"
        "host:visual.volcengineapi.com\n"
        f"x-content-sha256:{EMPTY_SHA256}\n"
        f"x-date:{X_DATE}\n"
        "\nhost;x-content-sha256;x-date\n"
        f"{EMPTY_SHA256}",
        {},
    ),
    (
        "session-token-and-x-headers-signed-user-agent-not",
        {
            "method": "GET",
            "session_token": "sts-token",
            "headers": {"User-Agent": "studio/1", "X-Custom": "v", "Content-Md5": "abc", "Accept": "*/*"},
        },
        "GET\n/\n\n"
        "content-md5:abc\n"
        "host:visual.volcengineapi.com\n"
        f"x-content-sha256:{EMPTY_SHA256}\n"
        "x-custom:v\n"
        f"x-date:{X_DATE}\n"
        "x-security-token:sts-token\n"
        "\ncontent-md5;host;x-content-sha256;x-custom;x-date;x-security-token\n"
        f"{EMPTY_SHA256}",
        {"X-Security-Token": "sts-token", "User-Agent": "studio/1", "Accept": "*/*"},
    ),
    (
        "lower-case-content-type-is-not-doubled",
        {"headers": {"content-type": "application/json"}, "body": b"{}"},
        "POST\n/\n\n"
        "content-type:application/json\n"
        "host:visual.volcengineapi.com\n"
        "x-content-sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\n"
        f"x-date:{X_DATE}\n"
        "\ncontent-type;host;x-content-sha256;x-date\n"
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
        {"content-type": "application/json"},
    ),
]


@pytest.mark.parametrize(("overrides", "canonical", "headers_subset"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule(overrides: dict[str, Any], canonical: str, headers_subset: dict[str, str]) -> None:
    signed = _sign(**overrides)
    assert signed.canonical_request == canonical
    sts, signature = _reference_signature(canonical, x_date=X_DATE, region="cn-north-1", service="cv")
    assert signed.string_to_sign == sts
    assert signed.signature == signature
    assert signed.query_string == canonical.split("\n")[2]
    assert signed.authorization == (
        f"HMAC-SHA256 Credential={AK}/20250115/cn-north-1/cv/request, "
        f"SignedHeaders={signed.signed_headers}, Signature={signature}"
    )
    for name, value in headers_subset.items():
        assert signed.headers[name] == value
    assert signed.headers["Authorization"] == signed.authorization
    # Exactly one header per name, whatever the caller's spelling.
    lowered = [name.lower() for name in signed.headers]
    assert len(lowered) == len(set(lowered))


def test_empty_body_hash_constant() -> None:
    assert hashlib.sha256(b"").hexdigest() == EMPTY_SHA256
    assert DEFAULT_CONTENT_TYPE == "application/x-www-form-urlencoded; charset=utf-8"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ([], ""),
        ([("Action", "CVProcess"), ("Version", "2022-08-31")], "Action=CVProcess&Version=2022-08-31"),
        ([("Version", "2022-08-31"), ("Action", "CVProcess")], "Action=CVProcess&Version=2022-08-31"),
        ([("q", "a b")], "q=a%20b"),
        ([("q", "a+b")], "q=a%2Bb"),
        ([("q", "*")], "q=%2A"),
        ([("q", "/")], "q=%2F"),
        ([("q", "-_.~")], "q=-_.~"),
        ([("x", "2"), ("x", "1")], "x=2&x=1"),
        ([("z", ""), ("Z", "")], "Z=&z="),
        ([("é", "1"), ("f", "1")], "f=1&%C3%A9=1"),
    ],
)
def test_canonical_query(query: list[tuple[str, str]], expected: str) -> None:
    assert canonical_query(query) == expected


def test_format_x_date() -> None:
    assert format_x_date(datetime(2025, 1, 15, 8, 30, 0, tzinfo=UTC)) == "20250115T083000Z"
    beijing = timezone(timedelta(hours=8))
    assert format_x_date(datetime(2025, 1, 15, 16, 30, 0, tzinfo=beijing)) == "20250115T083000Z"
    assert format_x_date(datetime(2025, 1, 15, 8, 30, 0)) == "20250115T083000Z"


def test_x_date_defaults_to_now() -> None:
    before = format_x_date(datetime.now(UTC))
    signed = _sign(x_date=None)
    after = format_x_date(datetime.now(UTC))
    assert before <= signed.headers["X-Date"] <= after
    assert signed.credential_scope.startswith(signed.headers["X-Date"][:8])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"x_date": "2025-01-15T08:30:00Z"}, "x_date"),
        ({"headers": {"X-Custom": "a\r\nInjected: 1"}}, "line break"),
        ({"headers": {"Content-Type": "a", "content-type": "b"}}, "twice"),
    ],
)
def test_rejects_bad_input(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _sign(**overrides)


def test_caller_supplied_x_date_header_is_replaced() -> None:
    signed = _sign(headers={"x-date": "19990101T000000Z"})
    assert signed.headers == {
        "x-date": X_DATE,
        "Host": "visual.volcengineapi.com",
        "Content-Type": DEFAULT_CONTENT_TYPE,
        "X-Content-Sha256": EMPTY_SHA256,
        "Authorization": signed.authorization,
    }
