"""Fault matrix: one row per upstream failure, driven through the whole pipeline
(API submit → queue → worker → provider → result download → storage) against the fakes.

Each row asserts the task's final status and error code, how many upstream calls the fakes saw per
action, that the API itself never answered 5xx, and that the error and every per-image failure
read in Chinese too (``message_zh``, shown by the Chinese UI). Every fault marker the fakes
document has a row. The outcome table is written to ``<pytest tmp>/fault-matrix.txt`` and printed
at the end of the module (visible with ``-s``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import app.providers.retry as retry_module
import tests.fakes.ark
import tests.fakes.visual
from tests.chinese import assert_chinese
from tests.conftest import StudioFactory
from tests.fakes.common import FAULT_MARKER, Fault
from tests.reliability.conftest import (
    ARK_KEY,
    GENERAL_30,
    JIMENG_30,
    SECRETS,
    SEEDREAM_40,
    ArkFake,
    StatusLog,
    VisualFake,
    closed_port,
    files_under,
    recorded_studio,
    upstream_settings,
)

GEN = "images.generations"
SUBMIT = "CVSync2AsyncSubmitTask"
RESULT = "CVSync2AsyncGetResult"
PROCESS = "CVProcess"
FILES = "files"
# Small enough that the timeout rows cost well under a second each.
READ_TIMEOUT = 0.6


@dataclass(frozen=True)
class Row:
    name: str
    upstream: str  # "ark" | "visual"
    status: str
    error: str | None
    calls: dict[str, int]
    marker: str = ""
    body: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    plan: tuple[int | str, ...] = ()
    outputs: int | None = None
    failures: tuple[tuple[int, str], ...] = ()
    stage: str | None = None
    # Backoff delays the retry policy computed (before RETRY_BACKOFF_SCALE=0 zeroes them).
    delays: Callable[[list[float]], bool] | None = None


def _ark(name: str, status: str, error: str | None, gen: int, files: int = 0, **kw: Any) -> Row:
    return Row(name, "ark", status, error, {GEN: gen, FILES: files}, **kw)


def _vis(name: str, status: str, error: str | None, submit: int, result: int = 0, files: int = 0, **kw: Any) -> Row:
    return Row(name, "visual", status, error, {SUBMIT: submit, RESULT: result, FILES: files}, **kw)


OK, FAILED = "completed", "failed"
MOD, RATE, UPSTREAM, TIMEOUT, AUTH = (
    "content_moderation", "upstream_rate_limited", "upstream_error", "upstream_timeout", "upstream_auth_failed"
)
GROUP3 = {"group": {"max_images": 3}}

ROWS = [
    # --- Ark -----------------------------------------------------------------------------------
    _ark("ok", OK, None, 1, 1),
    _ark("429 no Retry-After (x2, then ok)", OK, None, 3, 1, marker="[fault:429:times=2]",
         delays=lambda d: len(d) == 2 and all(0 < x <= 1.0 for x in d)),
    _ark("429 Retry-After: 7 (x1, then ok)", OK, None, 2, 1, marker="[fault:429:retry-after=7:times=1]",
         delays=lambda d: d == [7.0]),
    _ark("429 persistent", FAILED, RATE, 4, marker="[fault:429]"),
    _ark("SetLimitExceeded (account cap)", FAILED, RATE, 1, marker="[fault:setlimit]"),
    _ark("500 persistent", FAILED, UPSTREAM, 4, marker="[fault:500]"),
    _ark("502 HTML gateway page persistent", FAILED, UPSTREAM, 4, plan=(502,) * 4),
    _ark("503 (x1, then ok)", OK, None, 2, 1, plan=(503,)),
    _ark("connect refused", FAILED, UPSTREAM, 0,
         settings={"ark_base_url": f"http://127.0.0.1:{closed_port()}/api/v3"}),
    _ark("read timeout before headers", FAILED, TIMEOUT, 2, marker="[fault:timeout]"),
    _ark("read timeout after headers", FAILED, TIMEOUT, 2, marker="[fault:timeout-after-headers]"),
    _ark("truncated body", FAILED, UPSTREAM, 2, marker="[fault:truncated]"),
    _ark("truncated body (x1, then ok)", OK, None, 2, 1, marker="[fault:truncated:times=1]"),
    _ark("garbage body", FAILED, UPSTREAM, 2, marker="[fault:garbage]"),
    _ark("input moderation", FAILED, MOD, 1, marker="[fault:moderation-input]", stage="input"),
    _ark("output moderation", FAILED, MOD, 1, marker="[fault:moderation-output]", stage="output"),
    _ark("auth failure (wrong key)", FAILED, AUTH, 1, settings={"ark_api_key": "ark-wrong-key-000"}),
    _ark("auth failure (marker)", FAILED, AUTH, 1, marker="[fault:auth]"),
    _ark("QuotaExceeded persistent", FAILED, RATE, 3, marker="[fault:quota]"),
    _ark("500 with x-should-retry: false", FAILED, UPSTREAM, 1, marker="[fault:500:should-retry=false]"),
    _ark("400 InvalidParameter", FAILED, UPSTREAM, 1, marker="[fault:code=InvalidParameter]"),
    _ark("JSON answer drips past the total timeout", FAILED, TIMEOUT, 2, marker="[fault:drip]",
         settings={"upstream_total_timeout": 1.0}),
    _ark("JSON answer above the size cap", FAILED, UPSTREAM, 1, marker="[fault:huge:mb=60]",
         settings={"upstream_max_response_mb": 2}),
    _ark("slow but fine", OK, None, 1, 1, marker="[fault:slow:ms=50]"),
    _ark("more images than asked", OK, None, 1, 1, marker="[fault:extra:2]"),
    _ark("result URL 403", FAILED, UPSTREAM, 1, 1, marker="[fault:url-403]"),
    _ark("result URL 404", FAILED, UPSTREAM, 1, 1, marker="[fault:url-404]"),
    _ark("result URL HTML page", FAILED, UPSTREAM, 1, 1, marker="[fault:url-html]"),
    _ark("result host not allow-listed", FAILED, UPSTREAM, 1, 0, settings={"result_url_hosts": ["*.volces.com"]}),
    _ark("result URL drips past the total timeout", FAILED, TIMEOUT, 1, 2, marker="[fault:url-drip]",
         settings={"upstream_total_timeout": 0.5, "upstream_max_attempts": 2}),
    _ark("group, image 1 partial_failed", OK, None, 1, 2, marker="[fault:partial:1]", body=GROUP3, outputs=2,
         failures=((1, MOD),)),
    _ark("group, stream cut after image 0", OK, None, 1, 1, marker="[fault:truncated]", body=GROUP3, outputs=1,
         failures=((1, UPSTREAM), (2, UPSTREAM))),
    # --- Visual (async jimeng_t2i_v30 unless noted; the fake answers one poll "in_queue") -------
    _vis("ok", OK, None, 1, 2, 1),
    _vis("50429 (x2, then ok)", OK, None, 3, 2, 1, marker="[fault:50429:times=2]"),
    _vis("50430 persistent", FAILED, RATE, 4, marker="[fault:50430]"),
    _vis("50500 persistent (one retry)", FAILED, UPSTREAM, 2, marker="[fault:500]"),
    _vis("502 HTML gateway page persistent", FAILED, UPSTREAM, 4, plan=(502,) * 4),
    _vis("503 (x1, then ok)", OK, None, 2, 2, 1, plan=(503,)),
    _vis("connect refused", FAILED, UPSTREAM, 0, settings={"visual_base_url": f"http://127.0.0.1:{closed_port()}"}),
    _vis("read timeout before headers", FAILED, TIMEOUT, 2, marker="[fault:timeout]"),
    _vis("read timeout after headers", FAILED, TIMEOUT, 2, plan=("stall",) * 4),
    _vis("truncated body", FAILED, UPSTREAM, 2, marker="[fault:truncated]"),
    _vis("garbage body", FAILED, UPSTREAM, 2, marker="[fault:garbage]"),
    _vis("input moderation (50412)", FAILED, MOD, 1, marker="[fault:moderation-input]", stage="input"),
    _vis("output moderation (50511, new seed once)", FAILED, MOD, 2, 4, marker="[fault:moderation-output]",
         stage="output"),
    _vis("prompt with sensitive terms (50413)", FAILED, MOD, 1, marker="[fault:code=50413]", stage="input"),
    _vis("generated text refused (50512)", FAILED, MOD, 1, 2, marker="[fault:code=50512]", stage="output"),
    _vis("auth failure (InvalidAccessKey)", FAILED, AUTH, 1, marker="[fault:auth]"),
    _vis("signature mismatch (wrong secret)", FAILED, AUTH, 1, settings={"volcengine_secret_key": "wrong-secret-0000"}),
    _vis("result URL 403", FAILED, UPSTREAM, 1, 2, 1, marker="[fault:url-403]"),
    _vis("result URL 404", FAILED, UPSTREAM, 1, 2, 1, marker="[fault:url-404]"),
    _vis("result URL HTML page", FAILED, UPSTREAM, 1, 2, 1, marker="[fault:url-html]"),
    _vis("result host not allow-listed", FAILED, UPSTREAM, 1, 2, 0, settings={"result_url_hosts": ["*.volces.com"]}),
    _vis("async task not_found", FAILED, UPSTREAM, 1, 1, marker="[fault:not_found]"),
    _vis("async task expired", FAILED, UPSTREAM, 1, 1, marker="[fault:expired]"),
    _vis("JSON answer drips past the total timeout", FAILED, TIMEOUT, 2, marker="[fault:drip]",
         settings={"upstream_total_timeout": 1.0}),
    _vis("result URL drips past the total timeout", FAILED, TIMEOUT, 1, 2, 2, marker="[fault:url-drip]",
         settings={"upstream_total_timeout": 0.5, "upstream_max_attempts": 2}),
    _vis("more images than asked", OK, None, 1, 2, 1, marker="[fault:extra:3]"),
    _vis("2 images, the first refused (partial)", OK, None, 2, 2, 1, marker="[fault:moderation-input:times=1]",
         body={"num_images": 2}, outputs=1, failures=((0, MOD),)),
    Row("sync CVProcess ok (base64, no download)", "visual", OK, None, {PROCESS: 1, FILES: 0},
        body={"model": GENERAL_30}),
    Row("sync CVProcess 50500 (one retry)", "visual", FAILED, UPSTREAM, {PROCESS: 2, FILES: 0}, marker="[fault:500]",
        body={"model": GENERAL_30}),
    Row("sync CVProcess answer above the size cap", "visual", FAILED, UPSTREAM, {PROCESS: 1, FILES: 0},
        marker="[fault:huge:mb=30]", body={"model": GENERAL_30}, settings={"upstream_max_response_mb": 1}),
]

_OUTCOMES: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def outcome_table(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    header = f"{'upstream':<7} {'fault':<42} {'status':<10} {'error code':<22} {'upstream calls':<48} API 5xx"
    lines = [header, "-" * len(header), *_OUTCOMES]
    text = "\n".join(lines)
    path: Path = tmp_path_factory.getbasetemp() / "fault-matrix.txt"
    path.write_text(text + "\n")
    print(f"\n\nFault matrix ({len(_OUTCOMES)} rows, also in {path}):\n{text}")


@pytest.fixture
def computed_delays(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    seen: list[float] = []
    real = retry_module.backoff_delay

    def spy(*args: Any, **kwargs: Any) -> float:
        delay = real(*args, **kwargs)
        seen.append(delay)
        return delay

    monkeypatch.setattr(retry_module, "backoff_delay", spy)
    return seen


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.upstream}:{r.name}" for r in ROWS])
async def test_fault_row(
    row: Row,
    studio_factory: StudioFactory,
    ark_fake: ArkFake,
    visual_fake: VisualFake,
    computed_delays: list[float],
) -> None:
    log = StatusLog()
    fake = ark_fake if row.upstream == "ark" else visual_fake
    settings = upstream_settings(ark_fake, visual_fake, upstream_read_timeout=READ_TIMEOUT, **row.settings)
    studio = await recorded_studio(studio_factory, log, **settings)
    fake.plan = list(row.plan)
    if row.upstream == "ark":
        body: dict[str, Any] = {"model": SEEDREAM_40, "size": "2K"}
    else:
        body = {"model": JIMENG_30, "width": 1024, "height": 1024}
    body |= {"prompt": f"a quiet harbour at dawn {row.marker}".strip()} | row.body

    task_id = await studio.submit(body)
    await studio.run_jobs()
    task = await studio.task(task_id)
    # The rest of the API keeps answering normally about a failed task.
    for path in ("/api/v1/tasks", "/api/v1/history", "/health", f"/api/v1/tasks/{task_id}/events"):
        await studio.client.get(path)

    calls = {action: fake.stats.actions.get(action, 0) for action in row.calls}
    error = task["error"] or {}
    failures = tuple((f["index"], f["code"]) for f in task["failures"])
    _OUTCOMES.append(
        f"{row.upstream:<7} {row.name:<42} {task['status']:<10} {error.get('code') or '-':<22} "
        f"{', '.join(f'{k}={v}' for k, v in calls.items() if v or row.calls[k]):<48} "
        f"{len(log.server_errors)}"
        + (f"  failures={list(failures)}" if failures else "")
        + (f"  delays={computed_delays}" if row.delays else "")
    )

    assert task["status"] == row.status, task
    assert error.get("code") == row.error, task
    assert calls == row.calls, (calls, task)
    assert log.server_errors == [], log.seen
    assert len(task["outputs"]) == (row.outputs if row.outputs is not None else (1 if row.status == OK else 0))
    assert failures == row.failures, task
    if row.stage is not None:
        assert error.get("stage") == row.stage, task
    if row.status == FAILED:
        message = error.get("message") or ""
        assert len(message) > 20 and "Traceback" not in message, task
        assert not any(secret in message or secret in error["message_zh"] for secret in SECRETS)
        assert_chinese(error["message_zh"], message, verbatim=[error.get("upstream_code")])
    for failure in task["failures"]:
        assert_chinese(failure["message_zh"], failure["message"])
    if row.delays is not None:
        assert row.delays(computed_delays), computed_delays
    # Files on disk are exactly the stored images and their thumbnails.
    output = studio.services.store.output_dir
    expected = {o["url"].removeprefix("/images/") for o in task["outputs"]} | {
        o["thumbnail_url"].removeprefix("/images/") for o in task["outputs"]
    }
    assert {p.relative_to(output).as_posix() for p in files_under(output)} == expected
    assert ARK_KEY not in str(task)


@pytest.mark.parametrize("upstream", ["ark", "visual"])
def test_every_documented_fault_marker_has_a_row(upstream: str) -> None:
    fake = tests.fakes.ark if upstream == "ark" else tests.fakes.visual
    documented = {Fault.parse(marker).kind for marker in FAULT_MARKER.findall(fake.__doc__ or "")}
    covered = {Fault.parse(marker).kind for row in ROWS if row.upstream == upstream
               for marker in FAULT_MARKER.findall(row.marker)}
    assert documented and documented <= covered, sorted(documented - covered)
