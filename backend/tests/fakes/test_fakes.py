"""The fakes themselves: control API, validation, signature checks and the command line."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from app.providers.signing import sign_request
from tests.fakes.ark import (
    ACTION,
    SEEDEDIT_30,
    SEEDREAM_30,
    SEEDREAM_40,
    SEEDREAM_45,
    SEEDREAM_50_LITE,
    SEEDREAM_50_PRO,
    FakeArkServer,
)
from tests.fakes.common import Fault
from tests.fakes.visual import FakeVisualServer

BACKEND = Path(__file__).resolve().parents[2]
KEY = "fake-test-key"


@pytest.fixture
async def session() -> Any:
    async with aiohttp.ClientSession() as http:
        yield http


async def _ark_post(session: aiohttp.ClientSession, fake: FakeArkServer, body: dict[str, Any]) -> tuple[int, Any]:
    async with session.post(f"{fake.base_url}/images/generations", json=body,
                            headers={"Authorization": f"Bearer {KEY}"}) as response:
        return response.status, await response.json()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"model": SEEDREAM_40, "prompt": "p", "watermark": False}, 200, None),
        ({"model": SEEDREAM_40, "prompt": "p"}, 400, "MissingParameter"),
        ({"model": SEEDREAM_40, "prompt": "p", "watermark": "false"}, 400, "MissingParameter"),
        ({"model": "nope", "prompt": "p", "watermark": False}, 404, "InvalidEndpointOrModel.NotFound"),
        ({"model": SEEDREAM_40, "prompt": "", "watermark": False}, 400, "MissingParameter"),
        ({"model": SEEDREAM_45, "prompt": "p", "watermark": False, "size": "1K"}, 400, "InvalidParameter"),
        ({"model": SEEDREAM_45, "prompt": "p", "watermark": False, "size": "1280x720"}, 400, "InvalidParameter"),
        ({"model": SEEDREAM_40, "prompt": "p", "watermark": False, "size": "1280x720"}, 200, None),
        ({"model": SEEDREAM_40, "prompt": "p", "watermark": False, "seed": 3}, 400, "InvalidParameter"),
        ({"model": SEEDREAM_30, "prompt": "p", "watermark": False, "size": "2K"}, 400, "InvalidParameter"),
        ({"model": SEEDREAM_30, "prompt": "p", "watermark": False, "image": "data:image/png;base64,AAAA"}, 400,
         "InvalidParameter"),
        ({"model": SEEDREAM_30, "prompt": "p", "watermark": False, "stream": True}, 400,
         "InvalidParameter.UnsupportedModel"),
        ({"model": SEEDEDIT_30, "prompt": "p", "watermark": False, "size": "adaptive"}, 400,
         "InvalidParameter.UnsupportedImageCount"),
        ({"model": SEEDEDIT_30, "prompt": "p", "watermark": False, "size": "1024x1024",
          "image": "data:image/png;base64,AAAA"}, 400, "InvalidParameter"),
        ({"model": SEEDREAM_40, "prompt": "p", "watermark": False, "image": "data:image/PNG;base64,AAAA"}, 400,
         "InvalidParameter.UnsupportedImageFormat"),
        ({"model": SEEDREAM_40, "prompt": "p", "watermark": False, "sequential_image_generation": "auto",
          "sequential_image_generation_options": {"max_images": 14}, "image": ["data:image/png;base64,AAAA"] * 2},
         400, "InvalidParameter"),
        ({"model": SEEDREAM_45, "prompt": "p", "watermark": False, "optimize_prompt_options": {"mode": "fast"}}, 400,
         "InvalidParameter"),
        # The 5.x fields (official SDK types): only where the model takes them.
        ({"model": SEEDREAM_45, "prompt": "p", "watermark": False, "output_format": "png"}, 400, "InvalidParameter"),
        ({"model": SEEDREAM_50_PRO, "prompt": "p", "watermark": False, "tools": [{"type": "web_search"}]}, 400,
         "InvalidParameter"),
        ({"model": SEEDREAM_50_LITE, "prompt": "p", "watermark": False, "tools": [{"type": "code"}]}, 400,
         "InvalidParameter"),
        ({"model": SEEDREAM_50_LITE, "prompt": "p", "watermark": False, "output_format": "webp"}, 400,
         "InvalidParameter"),
        ({"model": SEEDREAM_50_LITE, "prompt": "p", "watermark": False, "size": "4K"}, 400, "InvalidParameter"),
        ({"model": SEEDREAM_50_LITE, "prompt": "p", "watermark": False, "size": "4096x4096"}, 400, "InvalidParameter"),
        ({"model": SEEDREAM_50_LITE, "prompt": "p", "watermark": False, "size": "3K"}, 200, None),
        ({"model": SEEDREAM_50_PRO, "prompt": "p", "watermark": False, "stream": True}, 400,
         "InvalidParameter.UnsupportedModel"),
    ],
)
async def test_ark_fake_validates_like_the_service(
    session: aiohttp.ClientSession, body: dict[str, Any], status: int, code: str | None
) -> None:
    async with FakeArkServer(api_key=KEY, max_image_side=32) as fake:
        got_status, payload = await _ark_post(session, fake, body)
    assert got_status == status, payload
    if code is None:
        assert payload["data"][0]["url"].startswith(fake.origin)
    else:
        assert payload["error"]["code"] == code and "Request ID" in payload["error"]["message"]


async def test_ark_fake_b64_and_group_json(session: aiohttp.ClientSession) -> None:
    async with FakeArkServer(api_key=KEY, max_image_side=32) as fake:
        status, payload = await _ark_post(session, fake, {
            "model": SEEDREAM_40, "prompt": "p [fault:partial:0]", "watermark": False, "response_format": "b64_json",
            "sequential_image_generation": "auto", "sequential_image_generation_options": {"max_images": 2}})
    assert status == 200
    assert payload["data"][0]["error"]["code"] == "OutputImageSensitiveContentDetected"
    assert payload["data"][1]["b64_json"] and payload["usage"]["generated_images"] == 1


async def test_ark_fake_speaks_the_5x_usage_and_output_format(session: aiohttp.ClientSession) -> None:
    ref = "data:image/png;base64,AAAA"
    async with FakeArkServer(api_key=KEY, max_image_side=32) as fake:
        status, payload = await _ark_post(session, fake, {
            "model": SEEDREAM_50_LITE, "prompt": "p", "watermark": False, "image": [ref, ref],
            "output_format": "png", "tools": [{"type": "web_search"}], "response_format": "b64_json"})
        assert status == 200, payload
        item = payload["data"][0]
        assert item["output_format"] == "png" and item["b64_json"].startswith("iVBOR")  # a PNG
        assert payload["usage"]["input_images"] == 2 and payload["usage"]["tool_usage"] == {"web_search": 1}
        _, plain = await _ark_post(session, fake, {"model": SEEDREAM_40, "prompt": "p", "watermark": False})
        assert "output_format" not in plain["data"][0] and "tool_usage" not in plain["usage"]
        # Streamed groups: every image frame carries image_index and output_format, usage comes last.
        async with session.post(f"{fake.base_url}/images/generations", headers={"Authorization": f"Bearer {KEY}"}, json={
            "model": SEEDREAM_50_LITE, "prompt": "p", "watermark": False, "stream": True,
            "tools": [{"type": "web_search"}], "sequential_image_generation": "auto",
            "sequential_image_generation_options": {"max_images": 2}}) as response:
            text = await response.text()
    frames = [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:") and "[DONE]" not in line]
    images = [f for f in frames if f["type"] == "image_generation.partial_succeeded"]
    assert [f["image_index"] for f in images] == [0, 1] and {f["output_format"] for f in images} == {"jpeg"}
    assert frames[-1]["usage"]["tool_usage"] == {"web_search": 2} and frames[-1]["usage"]["input_images"] == 0


async def test_ark_fake_reports_when_each_group_frame_was_written(session: aiohttp.ClientSession) -> None:
    # The page benchmark subtracts these wall-clock times from the browser's; reset clears them.
    async with FakeArkServer(api_key=KEY, max_image_side=32) as fake:
        fake.frame_delay = 0.05
        before = time.time()
        async with session.post(f"{fake.base_url}/images/generations", headers={"Authorization": f"Bearer {KEY}"}, json={
            "model": SEEDREAM_40, "prompt": "p [fault:partial:1]", "watermark": False, "stream": True,
            "sequential_image_generation": "auto", "sequential_image_generation_options": {"max_images": 3}}) as response:
            text = await response.text()
        url = next(json.loads(line[5:])["url"] for line in text.splitlines() if '"url"' in line)
        async with session.get(url) as r:
            assert r.status == 200
        async with session.get(f"{fake.origin}/_fake/stats?bodies=0") as r:
            stats = await r.json()
        frames, files = stats["frame_times"], stats["file_times"]
        assert len(frames) == 2 and before <= frames[0] and frames[1] - frames[0] >= 0.09  # image 1 failed: no frame
        assert len(files) == 1 and files[0] >= frames[0]
        async with session.post(f"{fake.origin}/_fake/reset"):
            pass
        assert fake.stats.frame_times == [] and fake.stats.file_times == []


async def test_control_api_queues_faults_and_reports_stats(session: aiohttp.ClientSession) -> None:
    async with FakeArkServer(api_key=KEY, max_image_side=32) as fake:
        async with session.post(f"{fake.origin}/_fake/faults",
                                json=[{"marker": "429:retry-after=1"}, {"kind": "500", "action": ACTION}]) as r:
            assert (await r.json())["queued"] == 2
        body = {"model": SEEDREAM_40, "prompt": "p", "watermark": False}
        statuses = [(await _ark_post(session, fake, body))[0] for _ in range(3)]
        assert statuses == [429, 500, 200]
        async with session.get(f"{fake.origin}/_fake/stats") as r:
            stats = await r.json()
        assert stats["requests"] == 3 and stats["actions"] == {ACTION: 3}
        assert stats["max_in_flight"] == 1 and stats["in_flight"] == 0
        assert stats["bodies"][0]["body"]["watermark"] is False
        async with session.post(f"{fake.origin}/_fake/reset") as r:
            assert r.status == 200
        assert fake.stats.requests == 0 and len(fake.faults) == 0


def test_fault_parsing() -> None:
    fault = Fault.parse("429:retry-after=2:times=3")
    assert (fault.kind, fault.options) == ("429", {"retry-after": "2", "times": "3"})
    assert Fault.parse("partial:1:2").int_args() == {1, 2}
    assert Fault.parse("code=OutputImageRiskDetection").options == {"code": "OutputImageRiskDetection"}


async def _signed_post(session: aiohttp.ClientSession, fake: FakeVisualServer, body: bytes, *, secret: str,
                       wire_query: str | None = None) -> tuple[int, Any]:
    host = fake.origin.removeprefix("http://")
    signed = sign_request(method="POST", host=host, path="/", query=[("Action", "CVProcess"), ("Version", "2022-08-31")],
                          headers={"Content-Type": "application/json"}, body=body, access_key="AK", secret_key=secret,
                          region="cn-north-1", service="cv")
    url = URL(f"{fake.origin}/?{wire_query or signed.query_string}", encoded=True)
    async with session.post(url, data=body, headers=signed.headers) as response:
        return response.status, await response.json(content_type=None)


async def test_visual_fake_verifies_signatures(session: aiohttp.ClientSession) -> None:
    body = json.dumps({"req_key": "high_aes_general_v30l_zt2i", "prompt": "p"}).encode()
    async with FakeVisualServer(access_key="AK", secret_key="SK", max_image_side=32) as fake:
        status, payload = await _signed_post(session, fake, body, secret="SK")
        assert status == 200 and payload["code"] == 10000 and payload["data"]["binary_data_base64"]
        status, payload = await _signed_post(session, fake, body, secret="wrong")
        assert status == 401 and payload["ResponseMetadata"]["Error"]["Code"] == "SignatureDoesNotMatch"
        status, payload = await _signed_post(session, fake, body, secret="SK", wire_query="Version=2022-08-31&Action=CVProcess")
        assert status == 401 and payload["ResponseMetadata"]["Error"]["Code"] == "SignatureDoesNotMatch"
        async with session.post(f"{fake.origin}/?Action=CVProcess&Version=2022-08-31", data=body) as response:
            assert response.status == 401
            assert (await response.json())["ResponseMetadata"]["Error"]["Code"] == "MissingAuthenticationToken"


@pytest.mark.parametrize(
    ("module", "args"),
    [
        ("tests.fakes.ark", ["--api-key", "K", "--frame-delay", "0.5"]),
        ("tests.fakes.visual", ["--access-key", "AK", "--secret-key", "SK"]),
    ],
)
async def test_fakes_run_as_processes(session: aiohttp.ClientSession, module: str, args: list[str]) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, "--port", "0", "--latency-ms", "0", *args,
        cwd=BACKEND, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=20)).decode().strip()
        assert line.startswith("READY http://127.0.0.1:"), line
        base_url = line.split(" ", 1)[1]
        origin = "/".join(base_url.split("/")[:3])
        async with session.get(f"{origin}/_fake/stats") as response:
            assert response.status == 200 and (await response.json())["requests"] == 0
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0
