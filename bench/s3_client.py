"""Which S3 client the image store uses (issue 13, item 5): put/get latency against a local S3 server.

moto's server mode on 127.0.0.1 (a test double: its own per-request cost is in every figure, the same
for each client), sequential calls from one thread, as an image worker makes them:
- ours: ``app.storage.s3.S3Client``, signature V4 over httpx (sync, one connection pool);
- boto3 (a dependency of moto, so installed in .venv for the tests only), its default client;
plus what importing each adds to an image worker process (which has the store loaded already). aiobotocore is not measured: the
store runs synchronously in worker processes (``app.storage.offload``), where an async client would
need an event loop per process for nothing.

Run: cd backend && ../.venv/bin/python ../bench/s3_client.py [--calls 200]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from _common import PY, bench_line, header, install_signal_handlers, percentile, table

SIZES = [("64 KiB", 64 * 1024), ("1 MiB", 1024 * 1024)]


def import_ms(module: str) -> float:
    """What importing ``module`` adds to an image worker, which has the image store loaded already."""
    best = float("inf")
    for _ in range(3):
        code = f"import app.storage.files, time; t=time.perf_counter(); import {module}; print((time.perf_counter()-t)*1000)"
        out = subprocess.run([str(PY), "-c", code], capture_output=True, text=True, check=True)
        best = min(best, float(out.stdout.strip()))
    return best


def timed_ms(fn, calls: int) -> list[float]:
    samples = []
    for i in range(calls):
        t0 = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    install_signal_handlers()
    header("S3 client: put/get latency against moto on 127.0.0.1")

    sys.path.insert(0, os.getcwd())
    import boto3
    from botocore.config import Config

    from app.storage.s3 import S3Client
    from tests.s3server import ACCESS_KEY, SECRET_KEY, MotoServer

    server = MotoServer()
    server.start()
    try:
        config = server.config(addressing="path", prefix="")
        server.create_bucket(config)
        ours = S3Client(config)
        theirs = boto3.client(
            "s3", endpoint_url=server.endpoint, region_name=config.region, aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY, config=Config(s3={"addressing_style": "path"}),
        )
        rows = []
        for label, size in SIZES:
            body = os.urandom(size)
            results = {}
            for name, put, get in (
                ("ours (SigV4 over httpx)",
                 lambda i, b=body, s=label: ours.put(f"o/{s}/{i}", b, "image/png"),
                 lambda i, s=label: ours.get(f"o/{s}/{i}")),
                ("boto3",
                 lambda i, b=body, s=label: theirs.put_object(Bucket=config.bucket, Key=f"b/{s}/{i}", Body=b,
                                                             ContentType="image/png"),
                 lambda i, s=label: theirs.get_object(Bucket=config.bucket, Key=f"b/{s}/{i}")["Body"].read()),
            ):
                timed_ms(put, 10)  # warm-up: connections, first signatures
                puts = timed_ms(put, args.calls)
                gets = timed_ms(get, args.calls)
                results[name] = (percentile(puts, 50), percentile(gets, 50))
                rows.append([name, label, f"{percentile(puts, 50):.2f}", f"{percentile(puts, 95):.2f}",
                             f"{percentile(gets, 50):.2f}", f"{percentile(gets, 95):.2f}"])
            for name, (put_p50, get_p50) in results.items():
                short = "ours" if name.startswith("ours") else "boto3"
                bench_line("13.5", f"S3 put p50 {label}, {short}, moto local", put_p50, "ms", "-")
                bench_line("13.5", f"S3 get p50 {label}, {short}, moto local", get_p50, "ms", "-")
        ours.close()
        print(table(rows, ["client", "object", "put p50 ms", "put p95 ms", "get p50 ms", "get p95 ms"]))
        imports = [["app.storage.s3 (httpx)", f"{import_ms('app.storage.s3'):.0f}"], ["boto3", f"{import_ms('boto3'):.0f}"]]
        print(table(imports, ["import added to a worker", "ms (best of 3)"]))
        for name, value in imports:
            bench_line("13.5", f"import {name.split()[0]}", float(value), "ms", "-")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
