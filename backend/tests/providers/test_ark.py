"""ArkProvider against the fake Ark server: wire bodies, streaming groups, errors and retries."""

from __future__ import annotations

import io
from typing import Any

import aiohttp
import pytest
from PIL import Image

from app.core.errors import (
    ContentModeration,
    JobCancelled,
    ProviderError,
    UpstreamAuthError,
    UpstreamBadRequest,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamTimeout,
)
from app.providers.ark import ArkProvider, build_body
from app.providers.base import GenerationRequest, ReferenceImage
from app.providers.download import ResultFetcher
from tests.fakes.ark import (
    ACTION,
    SEEDEDIT_30,
    SEEDREAM_30,
    SEEDREAM_40,
    SEEDREAM_45,
    FakeArkServer,
)
from tests.fakes.common import Fault
from tests.providers.conftest import RecordingContext, provider_settings


def _ref(width: int = 32, height: int = 24, fmt: str = "PNG") -> ReferenceImage:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(out, format=fmt)
    return ReferenceImage(data=out.getvalue(), content_type=f"image/{fmt.lower()}", width=width, height=height)


def _request(**fields: Any) -> GenerationRequest:
    values: dict[str, Any] = {"model": SEEDREAM_40, "mode": "text2image", "prompt": "a red fox"}
    values.update(fields)
    return GenerationRequest(**values)


async def _run(
    fake: FakeArkServer, session: aiohttp.ClientSession, request: GenerationRequest, **ctx_kw: Any
) -> RecordingContext:
    settings = provider_settings(ark_base_url=fake.base_url, **ctx_kw.pop("settings", {}))
    ctx = RecordingContext(ResultFetcher(settings, session), **ctx_kw)
    await ArkProvider(settings, session).generate(request, ctx)
    return ctx


async def _run_error(
    fake: FakeArkServer, session: aiohttp.ClientSession, request: GenerationRequest, **kw: Any
) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        await _run(fake, session, request, **kw)
    return info.value


def _calls(fake: FakeArkServer) -> int:
    return fake.stats.actions[ACTION]


def _bodies(fake: FakeArkServer) -> list[dict[str, Any]]:
    return fake.stats.bodies_for(ACTION)


# --------------------------------------------------------------------------------------------
# Bodies and happy paths


@pytest.mark.parametrize(
    ("fields", "size"),
    [
        ({"size": "2K"}, "2K"),
        ({"width": 2560, "height": 1440}, "2560x1440"),
        ({}, None),
    ],
)
async def test_text_to_image_sends_explicit_watermark_and_size(
    ark_fake: FakeArkServer, http_session: aiohttp.ClientSession, fields: dict[str, Any], size: str | None
) -> None:
    ctx = await _run(ark_fake, http_session, _request(**fields))

    assert _calls(ark_fake) == 1
    [body] = _bodies(ark_fake)
    assert body["watermark"] is False
    assert body.get("size") == size
    assert body["response_format"] == "url"
    assert body["sequential_image_generation"] == "disabled"
    assert "seed" not in body and "guidance_scale" not in body and "stream" not in body
    assert list(ctx.images) == [0]
    data, content_type, result = ctx.images[0]
    assert content_type == "image/jpeg" and data.startswith(b"\xff\xd8")
    assert result.url is not None and result.url.startswith(ark_fake.origin)
    assert ctx.failures == {}


async def test_watermark_true_is_sent_when_asked(ark_fake: FakeArkServer, http_session: aiohttp.ClientSession) -> None:
    await _run(ark_fake, http_session, _request(watermark=True, optimize_prompt="fast"))
    [body] = _bodies(ark_fake)
    assert body["watermark"] is True
    assert body["optimize_prompt_options"] == {"mode": "fast"}


async def test_seedream3_sends_seed_and_guidance_without_sequential_fields(
    ark_fake: FakeArkServer, http_session: aiohttp.ClientSession
) -> None:
    ctx = await _run(ark_fake, http_session,
                     _request(model=SEEDREAM_30, width=1024, height=768, seed=42, guidance_scale=3.5))
    [body] = _bodies(ark_fake)
    assert body["size"] == "1024x768"
    assert body["seed"] == 42 and body["guidance_scale"] == 3.5
    assert "sequential_image_generation" not in body
    assert ctx.images[0][2].seed == 42


async def test_multi_reference_image_to_image_sends_data_uris(
    ark_fake: FakeArkServer, http_session: aiohttp.ClientSession
) -> None:
    refs = (_ref(), _ref(40, 40, "JPEG"))
    ctx = await _run(ark_fake, http_session,
                     _request(model=SEEDREAM_45, mode="image2image", size="2K", references=refs))
    [body] = _bodies(ark_fake)
    assert body["image"] == [refs[0].data_uri(), refs[1].data_uri()]
    assert body["image"][0].startswith("data:image/png;base64,")
    assert body["image"][1].startswith("data:image/jpeg;base64,")
    assert list(ctx.images) == [0]


async def test_seededit_sends_one_image_as_a_string_and_adaptive_size(
    ark_fake: FakeArkServer, http_session: aiohttp.ClientSession
) -> None:
    ref = _ref()
    ctx = await _run(ark_fake, http_session,
                     _request(model=SEEDEDIT_30, mode="image2image", references=(ref,), seed=7, guidance_scale=5.5))
    [body] = _bodies(ark_fake)
    assert body["image"] == ref.data_uri()
    assert body["size"] == "adaptive"
    assert body["seed"] == 7 and body["guidance_scale"] == 5.5
    assert "sequential_image_generation" not in body
    assert list(ctx.images) == [0]


async def test_num_images_makes_independent_calls(ark_fake: FakeArkServer, http_session: aiohttp.ClientSession) -> None:
    ctx = await _run(ark_fake, http_session, _request(num_images=3))
    assert _calls(ark_fake) == 3
    assert sorted(ctx.images) == [0, 1, 2]


async def test_already_stored_indexes_are_not_paid_for_again(
    ark_fake: FakeArkServer, http_session: aiohttp.ClientSession
) -> None:
    ctx = await _run(ark_fake, http_session, _request(num_images=3), done={1})
    assert _calls(ark_fake) == 2
    assert sorted(ctx.images) == [0, 2]


def test_group_body_asks_for_a_stream() -> None:
    body = build_body(_request(group_max_images=2), stream=True)
    assert body["stream"] is True
    assert body["sequential_image_generation"] == "auto"
    assert body["sequential_image_generation_options"] == {"max_images": 2}


async def test_cancelled_job_makes_no_call(ark_fake: FakeArkServer, http_session: aiohttp.ClientSession) -> None:
    with pytest.raises(JobCancelled):
        await _run(ark_fake, http_session, _request(), cancelled=True)
    assert _calls(ark_fake) == 0


# --------------------------------------------------------------------------------------------
# Group streaming


@pytest.mark.parametrize(("pretty", "crlf"), [(False, False), (True, False), (True, True)])
async def test_group_stream_delivers_each_image_and_records_partial_failure(
    ark_fake: FakeArkServer, http_session: aiohttp.ClientSession, pretty: bool, crlf: bool
) -> None:
    ark_fake.sse_pretty, ark_fake.sse_crlf = pretty, crlf
    ctx = await _run(ark_fake, http_session, _request(prompt="three foxes [fault:partial:1]", group_max_images=3))

    assert _calls(ark_fake) == 1
    [body] = _bodies(ark_fake)
    assert body["stream"] is True and body["sequential_image_generation"] == "auto"
    assert body["sequential_image_generation_options"] == {"max_images": 3}
    assert sorted(ctx.images) == [0, 2]
    assert ctx.events == [("deliver", 0), ("fail", 1), ("deliver", 2)]
    failure = ctx.failures[1]
    assert isinstance(failure, ContentModeration) and failure.stage == "output"
    assert failure.upstream_code == "OutputImageSensitiveContentDetected"
    assert ctx.expected == 3


async def test_group_validation_error_arrives_as_json_even_when_streaming(
    ark_fake: FakeArkServer, http_session: aiohttp.ClientSession
) -> None:
    error = await _run_error(ark_fake, http_session, _request(prompt="x [fault:moderation-input]", group_max_images=2))
    assert isinstance(error, ContentModeration) and error.stage == "input"
    assert _calls(ark_fake) == 1


async def test_group_stream_cut_after_an_image_is_not_replayed(
    ark_fake: FakeArkServer, http_session: aiohttp.ClientSession
) -> None:
    with pytest.raises(ProviderError) as info:
        settings = provider_settings(ark_base_url=ark_fake.base_url)
        ctx = RecordingContext(ResultFetcher(settings, http_session))
        await ArkProvider(settings, http_session).generate(_request(prompt="x [fault:truncated]", group_max_images=3), ctx)
    assert info.value.code == "upstream_error"
    assert sorted(ctx.images) == [0]
    assert _calls(ark_fake) == 1


async def test_group_rerun_with_stored_images_does_not_start_a_new_group(
    ark_fake: FakeArkServer, http_session: aiohttp.ClientSession
) -> None:
    ctx = await _run(ark_fake, http_session, _request(group_max_images=3), done={0, 1})
    assert _calls(ark_fake) == 0
    assert ctx.expected == 2


async def test_group_download_failure_costs_only_that_image(
    ark_fake: FakeArkServer, http_session: aiohttp.ClientSession
) -> None:
    ark_fake.faults.push(Fault("url-403"))
    ctx = await _run(ark_fake, http_session, _request(group_max_images=2))
    assert sorted(ctx.images) == [1]
    assert ctx.failures[0].code == "upstream_error" and ctx.failures[0].retryable is False


# --------------------------------------------------------------------------------------------
# Errors and retries


@pytest.mark.parametrize(
    ("prompt", "queued", "error_type", "calls", "extra"),
    [
        ("x [fault:auth]", None, UpstreamAuthError, 1, {}),
        ("x [fault:429]", None, UpstreamRateLimited, 4, {}),
        ("x [fault:moderation-input]", None, ContentModeration, 1, {"stage": "input"}),
        ("x [fault:moderation-output]", None, ContentModeration, 1, {"stage": "output"}),
        ("x [fault:500]", None, UpstreamServerError, 4, {}),
        ("x [fault:500:should-retry=false]", None, UpstreamServerError, 1, {}),
        ("x [fault:setlimit]", None, UpstreamRateLimited, 1, {}),
        ("x [fault:quota]", None, UpstreamRateLimited, 3, {}),
        ("x [fault:code=ModelNotOpen]", None, UpstreamBadRequest, 1, {}),
        ("x [fault:code=InvalidParameter]", None, UpstreamBadRequest, 1, {}),
        ("x [fault:truncated]", None, UpstreamBadResponse, 2, {}),
        ("x [fault:garbage]", None, UpstreamBadResponse, 2, {}),
        ("x [fault:url-404]", None, UpstreamBadResponse, 1, {}),
        ("x", Fault("code", options={"code": "ContentSecurityDetectionError"}, count=4), UpstreamServerError, 4, {}),
    ],
)
async def test_errors_map_and_retry_as_the_policy_says(
    ark_fake: FakeArkServer,
    http_session: aiohttp.ClientSession,
    prompt: str,
    queued: Fault | None,
    error_type: type[ProviderError],
    calls: int,
    extra: dict[str, Any],
) -> None:
    if queued is not None:
        ark_fake.faults.push(queued)
    error = await _run_error(ark_fake, http_session, _request(prompt=prompt))
    assert type(error) is error_type, error
    assert _calls(ark_fake) == calls
    for name, value in extra.items():
        assert getattr(error, name) == value
    assert "ark-test-key" not in error.message


async def test_wrong_key_is_upstream_auth_failed_without_retry(http_session: aiohttp.ClientSession) -> None:
    async with FakeArkServer(api_key="another-key") as fake:
        error = await _run_error(fake, http_session, _request())
    assert error.code == "upstream_auth_failed"
    assert fake.stats.actions[ACTION] == 1
    assert "ark-test-key" not in error.message


@pytest.mark.parametrize("fault", ["429", "429:retry-after=2", "500", "503"])
async def test_transient_error_then_success(
    ark_fake: FakeArkServer, http_session: aiohttp.ClientSession, fault: str
) -> None:
    ark_fake.faults.push(fault)
    ctx = await _run(ark_fake, http_session, _request())
    assert _calls(ark_fake) == 2
    assert list(ctx.images) == [0]


async def test_rate_limit_marker_with_times_recovers(ark_fake: FakeArkServer, http_session: aiohttp.ClientSession) -> None:
    ctx = await _run(ark_fake, http_session, _request(prompt="x [fault:429:times=2]"))
    assert _calls(ark_fake) == 3
    assert list(ctx.images) == [0]


async def test_read_timeout_after_sending_is_retried_once(
    ark_fake: FakeArkServer, http_session: aiohttp.ClientSession
) -> None:
    error = await _run_error(ark_fake, http_session, _request(prompt="x [fault:timeout]"),
                             settings={"upstream_read_timeout": 0.2})
    assert isinstance(error, UpstreamTimeout) and error.code == "upstream_timeout"
    assert _calls(ark_fake) == 2


@pytest.mark.parametrize("group", [None, 2])
async def test_stall_after_headers_is_a_timeout(
    ark_fake: FakeArkServer, http_session: aiohttp.ClientSession, group: int | None
) -> None:
    error = await _run_error(ark_fake, http_session,
                             _request(prompt="x [fault:timeout-after-headers]", group_max_images=group),
                             settings={"upstream_read_timeout": 0.2})
    assert isinstance(error, UpstreamTimeout)
    assert _calls(ark_fake) == 2


async def test_connection_refused_is_retried_to_the_limit(http_session: aiohttp.ClientSession) -> None:
    fake = FakeArkServer(api_key="k")
    await fake.start()
    base_url = fake.base_url
    await fake.stop()
    settings = provider_settings(ark_base_url=base_url, upstream_max_attempts=3)
    attempts: list[int] = []
    with pytest.raises(ProviderError) as info:
        ctx = RecordingContext(ResultFetcher(settings, http_session))
        provider = ArkProvider(settings, http_session)
        original = provider._retrying

        async def counting(fn: Any, **kw: Any) -> Any:
            async def wrapped(n: int) -> Any:
                attempts.append(n)
                return await fn(n)

            return await original(wrapped, **kw)

        provider._retrying = counting  # type: ignore[method-assign]
        await provider.generate(_request(), ctx)
    assert info.value.code == "upstream_error" and info.value.retryable
    assert attempts == [1, 2, 3]


async def test_partly_failed_independent_images_keep_the_good_ones(
    ark_fake: FakeArkServer, http_session: aiohttp.ClientSession
) -> None:
    ark_fake.faults.push(Fault("code", options={"code": "OutputImageSensitiveContentDetected"}))
    ctx = await _run(ark_fake, http_session, _request(num_images=2))
    assert len(ctx.images) == 1 and len(ctx.failures) == 1
    [failure] = ctx.failures.values()
    assert isinstance(failure, ContentModeration) and failure.stage == "output"
    assert _calls(ark_fake) == 2


async def test_missing_key_is_a_clear_auth_error(ark_fake: FakeArkServer, http_session: aiohttp.ClientSession) -> None:
    error = await _run_error(ark_fake, http_session, _request(), settings={"ark_api_key": None})
    assert isinstance(error, UpstreamAuthError) and "ARK_API_KEY" in error.message
    assert _calls(ark_fake) == 0
