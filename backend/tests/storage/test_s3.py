"""The S3 client's signature V4, against the known answers of the AWS documentation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from app.storage.s3 import S3Client, S3Config, _Signer, canonical_query

# docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html and
# sig-v4-authenticating-requests (query string), "examplebucket".
EXAMPLE = S3Config(
    endpoint="https://s3.amazonaws.com",
    bucket="examplebucket",
    region="us-east-1",
    access_key_id=SecretStr("AKIAIOSFODNN7EXAMPLE"),
    secret_access_key=SecretStr("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    addressing="virtual",
)
WHEN = datetime(2013, 5, 24, tzinfo=UTC)
EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_header_signature_matches_the_aws_example() -> None:
    names, signature = _Signer(EXAMPLE).signature(
        "GET", "examplebucket.s3.amazonaws.com", "/test.txt", [],
        {"Range": "bytes=0-9", "x-amz-content-sha256": EMPTY, "x-amz-date": "20130524T000000Z"},
        EMPTY, "20130524T000000Z",
    )
    assert names == "host;range;x-amz-content-sha256;x-amz-date"
    assert signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"


def test_presigned_url_matches_the_aws_example() -> None:
    client = S3Client(EXAMPLE)
    url = client.presign_get("test.txt", now=WHEN, seconds=86400)
    client.close()
    assert url == (
        "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    )


def test_path_style_puts_the_bucket_in_the_path_and_keeps_the_prefix() -> None:
    config = S3Config(**{**{n: getattr(EXAMPLE, n) for n in S3Config.__dataclass_fields__},
                         "endpoint": "http://127.0.0.1:9000", "addressing": "path", "prefix": "studio/a"})
    client = S3Client(config)
    url = client.presign_get("output/2026/11/30/x_abcdefgh.png", now=WHEN, seconds=60)
    client.close()
    assert url.startswith("http://127.0.0.1:9000/examplebucket/studio/a/output/2026/11/30/x_abcdefgh.png?")
    assert "X-Amz-Expires=60&" in url


def test_canonical_query_sorts_and_encodes() -> None:
    assert canonical_query([("prefix", "a b/c"), ("list-type", "2"), ("uploads", "")]) == (
        "list-type=2&prefix=a%20b%2Fc&uploads="
    )


@pytest.mark.parametrize(
    "change", [{"part_size": 1024}, {"endpoint": "ftp://x"}, {"endpoint": "not a url"}]
)
def test_bad_configs_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        S3Config(**{**{n: getattr(EXAMPLE, n) for n in S3Config.__dataclass_fields__}, **change})  # type: ignore[arg-type]
