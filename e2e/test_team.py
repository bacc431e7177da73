"""A team on one studio (issue 14), on the real stack (nginx + uvicorn as `make run` starts them):
two members cannot see each other's tasks or images through nginx, and the `openai` client
generates through nginx's /v1/ with a member's token, its `url` opening without a session."""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Iterator

import pytest
from openai import AuthenticationError, OpenAI
from PIL import Image

from .conftest import Stack, running_stack
from .test_access import call

PASSWORD = "e2e-team-admin-pass"
ADMIN = {"Authorization": f"Bearer {PASSWORD}"}


@pytest.fixture(scope="module")
def team() -> Iterator[Stack]:
    with running_stack(ADMIN_PASSWORD=PASSWORD) as running:
        for name in ("alice", "bob"):
            status, _, body = call(running.port, "POST", "/api/v1/users", {"username": name, "password": f"{name}-pass-1"}, ADMIN)
            assert status == 201, body
        yield running


def sign_in(stack: Stack, name: str) -> dict[str, str]:
    status, headers, body = call(stack.port, "POST", "/api/v1/auth/login", {"username": name, "password": f"{name}-pass-1"})
    assert status == 204, body
    match = re.search(r"studio_session=([^;]+)", headers.get("set-cookie", ""))
    assert match, headers
    return {"Cookie": f"studio_session={match.group(1)}"}


def test_two_members_cannot_see_each_others_tasks_or_images(team: Stack) -> None:
    alice, bob = sign_in(team, "alice"), sign_in(team, "bob")
    task = team.generate("alice's private harbour, e2e", headers=alice)
    image, thumb = task["outputs"][0]["url"], task["outputs"][0]["thumbnail_url"]
    # nginx serves alice her image and bob a 404, and the admin everything.
    assert call(team.port, "GET", image, headers=alice)[0] == 200
    for url in (image, thumb):
        status, _, body = call(team.port, "GET", url, headers=bob)
        assert status == 404 and json.loads(body)["error"]["code"] == "not_found", url
    assert call(team.port, "GET", image, headers=ADMIN)[0] == 200
    assert call(team.port, "GET", image)[0] == 401
    # The API: her task is "not found" for him, and not in his history or search.
    assert call(team.port, "GET", f"/api/v1/tasks/{task['task_id']}", headers=bob)[0] == 404
    history = json.loads(call(team.port, "GET", "/api/v1/history?q=harbour", headers=bob)[2])
    assert history["total"] == 0
    mine = json.loads(call(team.port, "GET", "/api/v1/history?q=harbour", headers=alice)[2])
    assert [t["task_id"] for t in mine["items"]] == [task["task_id"]]


def test_the_openai_client_through_nginx(team: Stack) -> None:
    alice = sign_in(team, "alice")
    status, _, body = call(team.port, "POST", "/api/v1/tokens", {"name": "e2e sdk"}, alice)
    assert status == 201
    created = json.loads(body)
    sdk = OpenAI(base_url=f"{team.base_url}/v1", api_key=created["token"], max_retries=0, timeout=120)
    as_url = sdk.images.generate(model="demo", prompt="a kite over nginx", size="512x512")
    url = as_url.data[0].url or ""
    assert url.startswith(f"{team.base_url}/images/")
    # No cookie, no header: the signed link opens it through nginx's auth_request.
    status, headers, data = call(team.port, "GET", url.removeprefix(team.base_url))
    assert status == 200 and Image.open(io.BytesIO(data)).size == (512, 512)
    assert headers["cache-control"].startswith("private")
    # Bob's session does not open it without the signature.
    bob = sign_in(team, "bob")
    assert call(team.port, "GET", url.removeprefix(team.base_url).split("?")[0], headers=bob)[0] == 404
    as_b64 = sdk.images.generate(model="demo", prompt="a second kite", response_format="b64_json", size="256x256")
    assert Image.open(io.BytesIO(base64.b64decode(as_b64.data[0].b64_json or ""))).size == (256, 256)
    # Both are ordinary tasks in her history.
    prompts = [t["prompt"] for t in json.loads(call(team.port, "GET", "/api/v1/history?q=kite", headers=alice)[2])["items"]]
    assert prompts == ["a second kite", "a kite over nginx"]
    # Revoked: 401 in OpenAI's shape.
    assert call(team.port, "DELETE", f"/api/v1/tokens/{created['id']}", headers=alice)[0] == 204
    with pytest.raises(AuthenticationError) as refused:
        sdk.images.generate(model="demo", prompt="after revoking")
    assert isinstance(refused.value.body, dict) and refused.value.body["code"] == "invalid_api_key"
    sdk.close()
