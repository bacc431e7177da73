"""An S3-compatible server for the tests: moto in server mode, a child process on 127.0.0.1.

moto is a test double (a dev dependency only); the studio itself talks to any S3 service through
``app.storage.s3``. One server per test session; every test gets a bucket of its own.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import httpx
from pydantic import SecretStr

from app.storage.s3 import S3Client, S3Config

ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key-never-logged"
REGION = "cn-beijing"


class MotoServer:
    def __init__(self) -> None:
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.endpoint}/moto-api/", timeout=1.0)
                return
            except httpx.HTTPError:
                if self._process.poll() is not None:
                    raise RuntimeError("moto server exited at start") from None
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("moto server did not answer within 30 s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            self._process.wait(10)
        self._process = None

    def config(self, bucket: str | None = None, **overrides: object) -> S3Config:
        values: dict[str, object] = {
            "endpoint": self.endpoint,
            "bucket": bucket or f"studio-{uuid.uuid4().hex[:12]}",
            "region": REGION,
            "access_key_id": SecretStr(ACCESS_KEY),
            "secret_access_key": SecretStr(SECRET_KEY),
            "prefix": "studio",
        }
        values.update(overrides)
        return S3Config(**values)  # type: ignore[arg-type]

    def create_bucket(self, config: S3Config) -> None:
        client = S3Client(config)
        try:
            body = (
                "<CreateBucketConfiguration><LocationConstraint>"
                f"{config.region}</LocationConstraint></CreateBucketConfiguration>"
            )
            client._request("PUT", None, body=body.encode())  # CreateBucket: only tests make buckets
        finally:
            client.close()

    def env(self, config: S3Config) -> dict[str, str]:
        """The settings a studio process needs to use ``config``'s bucket."""
        return {
            "STORAGE_BACKEND": "s3",
            "S3_ENDPOINT": config.endpoint,
            "S3_BUCKET": config.bucket,
            "S3_REGION": config.region,
            "S3_ACCESS_KEY_ID": ACCESS_KEY,
            "S3_SECRET_ACCESS_KEY": SECRET_KEY,
            "S3_PREFIX": config.prefix,
            "S3_ADDRESSING_STYLE": config.addressing,
        }
