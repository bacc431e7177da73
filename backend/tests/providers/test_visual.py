"""VisualProvider against the fake Visual API, which verifies every signature."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import aiohttp
import pytest
from PIL import Image

from app.core.errors import (
    ContentModeration,
    ProviderError,
    UpstreamAuthError,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamTaskLost,
    UpstreamTimeout,
)
from app.providers.base import GenerationRequest, ReferenceImage
from app.providers.download import ResultFetcher
from app.providers.visual import VisualProvider
from tests.fakes.common import Fault
from tests.fakes.visual import UPSCALE_KEY, FakeVisualServer, Task
from tests.providers.conftest import RecordingContext, provider_settings

SUBMIT = "CVSync2AsyncSubmitTask"
RESULT = "CVSync2AsyncGetResult"
PROCESS = "CVProcess"
CANCEL = "CVCancelTask"


def _request(**fields: Any) -> GenerationRequest:
    values: dict[str, Any] = {"model": "jimeng_t2i_v30", "mode": "text2image", "prompt": "a lighthouse"}
    values.update(fields)
    return GenerationRequest(**values)


def _ref() -> ReferenceImage:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (0, 120, 0)).save(out, format="PNG")
    return ReferenceImage(data=out.getvalue(), content_type="image/png", width=40, height=30)


def _provider(fake: FakeVisualServer, session: aiohttp.ClientSession, **overrides: Any) -> tuple[VisualProvider, ResultFetcher]:
    settings = provider_settings(visual_base_url=fake.base_url, **overrides)
    return VisualProvider(settings, session), ResultFetcher(settings, session)


async def _run(fake: FakeVisualServer, session: aiohttp.ClientSession, request: GenerationRequest,
               *, settings: dict[str, Any] | None = None, **ctx_kw: Any) -> RecordingContext:
    provider, fetcher = _provider(fake, session, **(settings or {}))
    ctx = RecordingContext(fetcher, **ctx_kw)
    await provider.generate(request, ctx)
    return ctx


async def _run_error(fake: FakeVisualServer, session: aiohttp.ClientSession, request: GenerationRequest,
                     **kw: Any) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        await _run(fake, session, request, **kw)
    return info.value


def _count(fake: FakeVisualServer, action: str) -> int:
    return fake.stats.actions[action]


# --------------------------------------------------------------------------------------------
# Sync (CVProcess)


async def test_sync_general_v30_returns_base64_in_one_call(
    visual_fake: FakeVisualServer, http_session: aiohttp.ClientSession
) -> None:
    request = _request(model="high_aes_general_v30l_zt2i", width=1024, height=768, seed=5, guidance_scale=3.0)
    ctx = await _run(visual_fake, http_session, request)

    assert _count(visual_fake, PROCESS) == 1 and visual_fake.stats.requests == 1
    [body] = visual_fake.stats.bodies_for(PROCESS)
    assert body == {
        "req_key": "high_aes_general_v30l_zt2i", "prompt": "a lighthouse", "seed": 5, "width": 1024,
        "height": 768, "scale": 3.0, "use_pre_llm": False, "return_url": False, "logo_info": {"add_logo": False},
    }
    data, content_type, result = ctx.images[0]
    assert content_type == "image/jpeg" and result.url is None and result.seed == 5


async def test_sync_legacy_v21_sends_its_schedule_and_watermark(
    visual_fake: FakeVisualServer, http_session: aiohttp.ClientSession
) -> None:
    request = _request(model="high_aes_general_v21_L", width=512, height=512, watermark=True, optimize_prompt="standard")
    ctx = await _run(visual_fake, http_session, request)
    [body] = visual_fake.stats.bodies_for(PROCESS)
    assert body["model_version"] == "general_v2.1_L" and body["req_schedule_conf"] == "general_v20_9B_pe"
    assert body["logo_info"] == {"add_logo": True} and body["use_pre_llm"] is True
    assert list(ctx.images) == [0]


async def test_sync_output_moderation_retries_once_with_a_new_seed(
    visual_fake: FakeVisualServer, http_session: aiohttp.ClientSession
) -> None:
    visual_fake.faults.push(Fault("moderation-output", action=PROCESS))
    ctx = await _run(visual_fake, http_session, _request(model="high_aes_general_v30l_zt2i", seed=11))
    first, second = visual_fake.stats.bodies_for(PROCESS)
    assert first["seed"] == 11 and second["seed"] != 11
    assert ctx.images[0][2].seed == second["seed"]


# --------------------------------------------------------------------------------------------
# Async (submit + poll)


class _OrderCheckingContext(RecordingContext):
    def __init__(self, fake: FakeVisualServer, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.fake = fake
        self.polls_at_save: list[int] = []

    async def save_state(self, **values: Any) -> None:
        self.polls_at_save.append(self.fake.stats.actions[RESULT])
        await super().save_state(**values)


async def test_async_submit_saves_task_id_before_polling_then_downloads(
    visual_fake: FakeVisualServer, http_session: aiohttp.ClientSession
) -> None:
    provider, fetcher = _provider(visual_fake, http_session)
    ctx = _OrderCheckingContext(visual_fake, fetcher)
    await provider.generate(_request(width=1328, height=1328, seed=3), ctx)

    assert _count(visual_fake, SUBMIT) == 1
    assert _count(visual_fake, RESULT) == 3  # in_queue, generating, done
    # the task id before the first poll; then the upstream's status each time it changes
    assert ctx.polls_at_save == [0, 1, 2]
    assert [s["upstream_status"] for s in ctx.saved if "upstream_status" in s] == ["in_queue", "generating"]
    [task_id] = visual_fake.tasks
    assert ctx.state["upstream_task_id"] == task_id and ctx.state["tasks"] == {"0": task_id}
    [submit] = visual_fake.stats.bodies_for(SUBMIT)
    assert submit == {"req_key": "jimeng_t2i_v30", "prompt": "a lighthouse", "seed": 3, "width": 1328,
                      "height": 1328, "use_pre_llm": False}
    poll = visual_fake.stats.bodies_for(RESULT)[0]
    assert poll["task_id"] == task_id and isinstance(poll["req_json"], str)
    assert json.loads(poll["req_json"]) == {"return_url": True, "logo_info": {"add_logo": False}}
    data, content_type, result = ctx.images[0]
    assert result.url is not None and content_type == "image/jpeg"
    assert _count(visual_fake, "files") == 1


@pytest.mark.parametrize("state_key", ["upstream_task_id", "tasks"])
async def test_resume_with_saved_task_makes_zero_submits(
    visual_fake: FakeVisualServer, http_session: aiohttp.ClientSession, state_key: str
) -> None:
    body = {"req_key": "jimeng_t2i_v30", "prompt": "a lighthouse"}
    visual_fake.tasks["42"] = Task("42", "jimeng_t2i_v30", body, "a lighthouse", pending_polls=1)
    state = {"upstream_task_id": "42"} if state_key == "upstream_task_id" else {"tasks": {"0": "42"}}
    ctx = await _run(visual_fake, http_session, _request(), state=state)
    assert _count(visual_fake, SUBMIT) == 0
    assert _count(visual_fake, RESULT) == 2
    assert list(ctx.images) == [0]


async def test_independent_images_each_get_their_own_task(
    visual_fake: FakeVisualServer, http_session: aiohttp.ClientSession
) -> None:
    ctx = await _run(visual_fake, http_session, _request(num_images=2))
    assert _count(visual_fake, SUBMIT) == 2
    assert set(ctx.state["tasks"]) == {"0", "1"} and len(set(ctx.state["tasks"].values())) == 2
    assert sorted(ctx.images) == [0, 1]


async def test_jimeng40_group_with_references(visual_fake: FakeVisualServer, http_session: aiohttp.ClientSession) -> None:
    ref = _ref()
    request = _request(model="jimeng_t2i_v40", mode="image2image", size="2K", references=(ref,), strength=0.7,
                       group_max_images=4, prompt="a story in 3 images")
    ctx = await _run(visual_fake, http_session, request)
    [submit] = visual_fake.stats.bodies_for(SUBMIT)
    assert submit["force_single"] is False and submit["size"] == 4_194_304 and submit["scale"] == 0.7
    assert submit["binary_data_base64"] == [base64.b64encode(ref.data).decode()]
    assert sorted(ctx.images) == [0, 1, 2] and ctx.expected == 3


async def test_jimeng40_single_forces_one_image(visual_fake: FakeVisualServer, http_session: aiohttp.ClientSession) -> None:
    await _run(visual_fake, http_session, _request(model="jimeng_t2i_v40", width=2048, height=1536))
    [submit] = visual_fake.stats.bodies_for(SUBMIT)
    assert submit["force_single"] is True and (submit["width"], submit["height"]) == (2048, 1536)
    assert "size" not in submit


@pytest.mark.parametrize(
    ("fault", "action"),
    [("50429", SUBMIT), ("50430", SUBMIT), ("50429", RESULT), ("50500", SUBMIT)],
)
async def test_throttling_and_internal_errors_are_retried(
    visual_fake: FakeVisualServer, http_session: aiohttp.ClientSession, fault: str, action: str
) -> None:
    visual_fake.faults.push(Fault(fault, action=action))
    ctx = await _run(visual_fake, http_session, _request())
    assert list(ctx.images) == [0]
    assert _count(visual_fake, SUBMIT) == (2 if action == SUBMIT else 1)


@pytest.mark.parametrize(
    ("prompt", "error_type", "submits", "extra"),
    [
        ("x [fault:50430]", UpstreamRateLimited, 4, {"upstream_code": "50430"}),
        ("x [fault:500]", UpstreamServerError, 2, {"upstream_code": "50500"}),
        ("x [fault:code=50411]", ContentModeration, 1, {"stage": "input"}),
        ("x [fault:code=50412]", ContentModeration, 1, {"stage": "input"}),
        ("x [fault:moderation-input]", ContentModeration, 1, {"stage": "input", "upstream_code": "50412"}),
        ("x [fault:code=50413]", ContentModeration, 1, {"stage": "input"}),
        ("x [fault:code=50512]", ContentModeration, 1, {"stage": "output"}),
        ("x [fault:moderation-output]", ContentModeration, 2, {"stage": "output", "upstream_code": "50511"}),
        ("x [fault:not_found]", UpstreamTaskLost, 1, {"upstream_code": "not_found"}),
        ("x [fault:expired]", UpstreamTaskLost, 1, {"upstream_code": "expired"}),
        ("x [fault:auth]", UpstreamAuthError, 1, {"upstream_code": "InvalidAccessKey"}),
        ("x [fault:garbage]", UpstreamBadResponse, 2, {}),
        ("x [fault:code=50200]", ProviderError, 1, {"code": "upstream_error", "retryable": False}),
    ],
)
async def test_failures_map_to_clear_errors(
    visual_fake: FakeVisualServer,
    http_session: aiohttp.ClientSession,
    prompt: str,
    error_type: type[ProviderError],
    submits: int,
    extra: dict[str, Any],
) -> None:
    error = await _run_error(visual_fake, http_session, _request(prompt=prompt))
    assert isinstance(error, error_type), error
    assert _count(visual_fake, SUBMIT) == submits
    for name, value in extra.items():
        assert getattr(error, name) == value
    assert "provider-test-secret-key" not in error.message


async def test_output_moderation_on_poll_resubmits_once_with_a_new_seed(
    visual_fake: FakeVisualServer, http_session: aiohttp.ClientSession
) -> None:
    visual_fake.faults.push(Fault("moderation-output", action=RESULT))
    visual_fake.pending_polls = 0
    ctx = await _run(visual_fake, http_session, _request(seed=9))
    first, second = visual_fake.stats.bodies_for(SUBMIT)
    assert first["seed"] == 9 and second["seed"] not in (9, None)
    assert ctx.state["tasks"]["0"] == ctx.state["upstream_task_id"] != visual_fake.stats.bodies_for(RESULT)[0]["task_id"]
    assert ctx.state["seeds"] == {"0": second["seed"]}
    assert list(ctx.images) == [0]


async def test_lost_task_message_says_what_to_do(visual_fake: FakeVisualServer, http_session: aiohttp.ClientSession) -> None:
    error = await _run_error(visual_fake, http_session, _request(), state={"upstream_task_id": "unknown"})
    assert isinstance(error, UpstreamTaskLost)
    assert "Retry the job" in error.message and error.retryable is False
    assert _count(visual_fake, SUBMIT) == 0


@pytest.mark.parametrize(("access_key", "secret_key", "upstream_code"), [
    ("AKLTproviderTestAccessKey", "wrong-secret", "SignatureDoesNotMatch"),
    ("AKLTsomeoneElse", "provider-test-secret-key", "InvalidAccessKey"),
])
async def test_bad_credentials_fail_without_retry(
    visual_fake: FakeVisualServer, http_session: aiohttp.ClientSession, access_key: str, secret_key: str,
    upstream_code: str,
) -> None:
    error = await _run_error(visual_fake, http_session, _request(),
                             settings={"volcengine_access_key": access_key, "volcengine_secret_key": secret_key})
    assert isinstance(error, UpstreamAuthError) and error.code == "upstream_auth_failed"
    assert error.upstream_code == upstream_code
    assert visual_fake.stats.requests == 1
    assert secret_key not in error.message


async def test_poll_deadline_gives_upstream_timeout(visual_fake: FakeVisualServer, http_session: aiohttp.ClientSession) -> None:
    visual_fake.pending_polls = 10_000
    error = await _run_error(visual_fake, http_session, _request(), settings={"visual_poll_deadline": 0.05})
    assert isinstance(error, UpstreamTimeout)
    assert _count(visual_fake, SUBMIT) == 1


async def test_truncated_sync_answer_is_retried_once(visual_fake: FakeVisualServer, http_session: aiohttp.ClientSession) -> None:
    error = await _run_error(visual_fake, http_session, _request(model="high_aes_general_v30l_zt2i", prompt="x [fault:truncated]"))
    assert error.code == "upstream_error"
    assert _count(visual_fake, PROCESS) == 2


async def test_result_link_expired_is_reported(visual_fake: FakeVisualServer, http_session: aiohttp.ClientSession) -> None:
    error = await _run_error(visual_fake, http_session, _request(prompt="x [fault:url-403]"))
    assert isinstance(error, UpstreamBadResponse) and "no longer available" in error.message


async def test_cancel_calls_cancel_task_for_each_saved_task(
    visual_fake: FakeVisualServer, http_session: aiohttp.ClientSession
) -> None:
    for task_id in ("1", "2"):
        visual_fake.tasks[task_id] = Task(task_id, "jimeng_t2i_v30", {}, "p", pending_polls=5)
    provider, _ = _provider(visual_fake, http_session)
    await provider.cancel(_request(), {"upstream_task_id": "1", "tasks": {"0": "1", "1": "2", "2": "missing"}})
    assert _count(visual_fake, CANCEL) == 3
    assert visual_fake.tasks["1"].cancelled and visual_fake.tasks["2"].cancelled
    assert [body["task_id"] for body in visual_fake.stats.bodies_for(CANCEL)] == ["1", "2", "missing"]


async def test_an_edit_polls_and_cancels_with_its_own_req_key(
    visual_fake: FakeVisualServer, http_session: aiohttp.ClientSession
) -> None:
    request = GenerationRequest(
        model="jimeng_t2i_v40", mode="edit", prompt="", references=(_ref(),), operation="upscale",
        edit_req_key=UPSCALE_KEY, resolution="4k", target_long_side=4096,
    )
    ctx = await _run(visual_fake, http_session, request)
    assert list(ctx.images) == [0]
    [submitted] = visual_fake.stats.bodies_for("CVSync2AsyncSubmitTask")
    assert submitted["req_key"] == UPSCALE_KEY and submitted["resolution"] == "4k"
    assert {body["req_key"] for body in visual_fake.stats.bodies_for("CVSync2AsyncGetResult")} == {UPSCALE_KEY}
    visual_fake.tasks["9"] = Task("9", UPSCALE_KEY, {}, "", pending_polls=5)
    provider, _ = _provider(visual_fake, http_session)
    await provider.cancel(request, {"upstream_task_id": "9"})
    assert visual_fake.tasks["9"].cancelled
    assert visual_fake.stats.bodies_for(CANCEL)[-1] == {"req_key": UPSCALE_KEY, "task_id": "9"}
