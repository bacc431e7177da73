"""The `studio` command line against the real stack (nginx + uvicorn, fake Ark), as a shell user
runs it: generate with live progress and downloads, history, get, usage; exit codes and messages
for a studio that is down, a refused request and a failed task; a token when a password is set."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from e2e.conftest import REPO, Stack, free_port, running_stack

STUDIO = REPO / ".venv" / "bin" / "studio"
PASSWORD = "cli-e2e-password"


@pytest.fixture(scope="module")
def guarded() -> Iterator[Stack]:
    with running_stack(APP_PASSWORD=PASSWORD) as running:
        yield running


def studio(stack_url: str, *args: str, token: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env["STUDIO_URL"] = stack_url
    if token:
        env["STUDIO_TOKEN"] = token
    return subprocess.run([str(STUDIO), *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_generate_follows_the_job_and_saves_every_image(stack: Stack, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = studio(stack.base_url, "generate", "a red fox in the snow 雪中红狐", "--model", "demo", "-n", "2",
                  "--out", str(out))
    assert done.returncode == 0, done.stderr
    saved = sorted(out.iterdir())
    assert len(saved) == 2
    assert sorted(Path(line) for line in done.stdout.splitlines()) == saved
    for path in saved:
        assert "a-red-fox-in-the-snow" in path.name and path.suffix == ".png"
        with Image.open(path) as image:
            image.verify()
    assert "2 image(s) saved" in done.stderr

    listed = studio(stack.base_url, "history", "--search", "雪中红狐", "--json")
    assert listed.returncode == 0, listed.stderr
    page = json.loads(listed.stdout)
    assert page["total"] >= 1
    task_id = page["items"][0]["task_id"]

    again = studio(stack.base_url, "get", task_id, "--out", str(tmp_path / "again"))
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in (tmp_path / "again").iterdir()) == [p.name for p in saved]
    assert "completed" in again.stdout

    table = studio(stack.base_url, "history", "--search", "red fox")
    assert table.returncode == 0 and task_id in table.stdout


def test_generate_with_a_reference_and_an_ark_model(stack: Stack, tmp_path: Path) -> None:
    ref = tmp_path / "ref.png"
    Image.new("RGB", (64, 64), (200, 40, 40)).save(ref)
    done = studio(stack.base_url, "generate", "the same, in blue", "--model", "doubao-seedream-4-0-250828",
                  "--ref", str(ref), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "out").iterdir())) == 1


def test_no_wait_prints_the_task_id(stack: Stack) -> None:
    done = studio(stack.base_url, "generate", "later", "--model", "demo", "--no-wait")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip()) >= 16


def test_usage_prints_spend(stack: Stack) -> None:
    done = studio(stack.base_url, "usage", "--by", "model")
    assert done.returncode == 0, done.stderr
    assert "today" in done.stdout and "this month" in done.stdout


def test_exit_codes_say_what_went_wrong(stack: Stack, tmp_path: Path) -> None:
    down = studio(f"http://127.0.0.1:{free_port()}", "history")
    assert down.returncode == 3 and "cannot reach the studio" in down.stderr

    refused = studio(stack.base_url, "generate", "x", "--model", "no-such-model")
    assert refused.returncode == 4 and "HTTP 4" in refused.stderr and "no-such-model" in refused.stderr

    missing = studio(stack.base_url, "get", "0" * 32)
    assert missing.returncode == 4 and "HTTP 404" in missing.stderr

    failed = studio(stack.base_url, "generate", "blocked [fault:moderation-input]", "--model",
                    "doubao-seedream-4-0-250828", "--out", str(tmp_path))
    assert failed.returncode == 5, (failed.stdout, failed.stderr)
    assert "failed" in failed.stderr

    usage = studio(stack.base_url, "generate", "x", "-n", "9")
    assert usage.returncode == 2


def test_a_password_protected_studio_needs_the_token(guarded: Stack, tmp_path: Path) -> None:
    anonymous = studio(guarded.base_url, "history")
    assert anonymous.returncode == 4 and "HTTP 401" in anonymous.stderr and "STUDIO_TOKEN" in anonymous.stderr
    done = studio(guarded.base_url, "generate", "guarded fox", "--model", "demo", "--out", str(tmp_path),
                  token=PASSWORD)
    assert done.returncode == 0, done.stderr
    assert len(list(tmp_path.iterdir())) == 1
