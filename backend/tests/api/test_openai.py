"""The OpenAI-compatible Images API (issue 14, items 5-6), driven by the real ``openai`` client over
HTTP against a served app with its worker running: the demo model and the fake Ark upstream,
``b64_json`` and ``url``, ``images.edit``, revoked tokens, OpenAI's error shapes, and that every
call is an ordinary task of the token's user."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import openai
import pytest
from openai import AsyncOpenAI
from PIL import Image

from tests.api.test_live_channel import serving
from tests.api.test_users import ADMIN, PASSWORD, make_member, signed_in
from tests.conftest import Studio, StudioFactory
from tests.fakes.ark import FakeArkServer

ARK_KEY = "ark-test-key-openai-7d1"
SEEDREAM_40 = "doubao-seedream-4-0-250828"


def png(width: int = 320, height: int = 320, color: str = "orange") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


@asynccontextmanager
async def gateway(studio: Studio, member: str = "alice") -> AsyncIterator[tuple[str, AsyncOpenAI, str]]:
    """(base URL, an OpenAI client with ``member``'s token, the token), the worker running."""
    await make_member(studio, member)
    async with signed_in(studio, member) as client:
        created = await client.post("/api/v1/tokens", json={"name": "openai sdk"})
        token = created.json()["token"]
    await studio.services.start_worker()
    async with serving(studio) as base:
        sdk = AsyncOpenAI(base_url=f"{base}/v1", api_key=token, max_retries=0, timeout=60)
        try:
            yield base, sdk, token
        finally:
            await sdk.close()


@pytest.fixture
async def guarded(studio_factory: StudioFactory) -> Studio:
    studio: Studio = await studio_factory(app_password=PASSWORD)
    return studio


async def history_of(studio: Studio, token: str) -> list[dict[str, Any]]:
    response = await studio.client.get("/api/v1/history", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_generate_b64_json_with_the_demo_model(guarded: Studio) -> None:
    async with gateway(guarded) as (_base, sdk, token):
        result = await sdk.images.generate(
            model="demo", prompt="a paper boat", size="512x384", response_format="b64_json", user="end-user-7"
        )
        assert result.created > 0 and len(result.data) == 1
        image = Image.open(io.BytesIO(base64.b64decode(result.data[0].b64_json or "")))
        assert image.size == (512, 384)
        assert result.data[0].url is None
        # An ordinary task of the token's user: in their history, not in another member's.
        [task] = await history_of(guarded, token)
        assert task["prompt"] == "a paper boat" and task["model"] == "demo" and task["status"] == "completed"
        await make_member(guarded, "bob")
        async with signed_in(guarded, "bob") as bob:
            assert (await bob.get("/api/v1/history")).json()["total"] == 0
            assert (await bob.get(f"/api/v1/tasks/{task['task_id']}")).status_code == 404


async def test_generate_url_opens_for_its_user_without_a_session(guarded: Studio) -> None:
    async with gateway(guarded) as (base, sdk, token), aiohttp.ClientSession() as http:
        result = await sdk.images.generate(model="demo", prompt="two kites", n=2, size="640x640")
        urls = [item.url or "" for item in result.data]
        assert len(urls) == 2
        for url in urls:
            assert url.startswith(f"{base}/images/")
            async with http.get(url) as response:  # no cookie, no header: the signature opens it
                assert response.status == 200
                assert Image.open(io.BytesIO(await response.read())).size == (640, 640)
        history = await history_of(guarded, token)
        assert [t["expected_images"] for t in history] == [2]

        parts = urlsplit(urls[0])
        query = parse_qs(parts.query)
        bare = f"{base}{parts.path}"
        tampered = f"{bare}?u={query['u'][0]}&exp={int(query['exp'][0]) + 1}&sig={query['sig'][0]}"
        async with http.get(bare) as response:
            assert response.status == 401
        async with http.get(tampered) as response:
            assert response.status == 401
        # Another member's signature opens nothing of this one's.
        await make_member(guarded, "bob")
        async with signed_in(guarded, "bob") as bob:
            bob_id = (await bob.get("/api/v1/users/me")).json()["id"]
            signed = guarded.services.image_access.signed_query(parts.path.removeprefix("/images/"), bob_id)
            async with http.get(f"{bare}?{signed}") as response:
                assert response.status == 401
            assert (await bob.get(parts.path)).status_code == 404


async def test_signed_links_expire() -> None:
    from app.services.image_access import ImageAccess

    now = [1_000_000.0]
    access = ImageAccess(db=None, key=b"k" * 32, ttl=60, clock=lambda: now[0])  # type: ignore[arg-type]
    rel = "2026/11/30/abcdefgh12345678i00000.png"
    query = {k: v[0] for k, v in parse_qs(access.signed_query(rel, "user-1")).items()}
    assert access.signer(query, rel) == "user-1"
    assert access.signer(query, rel.replace(".png", ".thumb.webp")) is None
    now[0] += 61
    assert access.signer(query, rel) is None


async def test_edit_with_the_demo_model(guarded: Studio) -> None:
    async with gateway(guarded) as (_base, sdk, token):
        result = await sdk.images.edit(
            model="demo", image=("in.png", png(), "image/png"), prompt="make it blue", response_format="b64_json"
        )
        assert Image.open(io.BytesIO(base64.b64decode(result.data[0].b64_json or ""))).format == "PNG"
        [task] = await history_of(guarded, token)
        assert task["type"] == "image2image" and len(task["parameters"]["references"]) == 1
        # Two images as image[].
        two = await sdk.images.edit(
            model="demo", image=[("a.png", png(), "image/png"), ("b.png", png(color="red"), "image/png")], prompt="merge"
        )
        assert two.data[0].url


def openai_mask(width: int = 320, height: int = 320, hole: tuple[int, int, int, int] = (40, 40, 160, 120)) -> bytes:
    """OpenAI's mask: opaque where the image stays, fully transparent where it is edited."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 255))
    image.paste((0, 0, 0, 0), hole)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def test_edit_with_a_mask_is_an_inpaint_of_the_transparent_area(guarded: Studio) -> None:
    async with gateway(guarded) as (_base, sdk, token):
        result = await sdk.images.edit(
            model="demo", image=("in.png", png(), "image/png"), mask=("m.png", openai_mask(), "image/png"),
            prompt="a blue bird", response_format="b64_json",
        )
        edited = Image.open(io.BytesIO(base64.b64decode(result.data[0].b64_json or ""))).convert("RGB")
        assert edited.size == (320, 320)
        [task] = await history_of(guarded, token)
        assert task["type"] == "edit" and task["operation"] == "inpaint" and task["prompt"] == "a blue bird"
        source_id, mask_id = task["parameters"]["references"]
        data, _ = guarded.services.store.load_upload(mask_id)
        mask = Image.open(io.BytesIO(data))
        # Transparent = edit (255), opaque = keep (0), single channel.
        assert mask.mode == "L" and mask.getpixel((100, 80)) == 255 and mask.getpixel((300, 300)) == 0
        # Outside the hole (and the demo's corner badge) the picture is the source's orange.
        assert edited.getpixel((300, 300)) == (255, 165, 0)

        with pytest.raises(openai.BadRequestError) as refused:
            await sdk.images.edit(
                model="demo", image=[("a.png", png(), "image/png"), ("b.png", png(), "image/png")],
                mask=("m.png", openai_mask(), "image/png"), prompt="x",
            )
        error = refused.value.body
        assert isinstance(error, dict)
        assert error["type"] == "invalid_request_error" and error["param"] == "image"
        with pytest.raises(openai.BadRequestError) as wrong_size:
            await sdk.images.edit(
                model="demo", image=("in.png", png(), "image/png"), mask=("m.png", openai_mask(200, 100), "image/png"),
                prompt="x",
            )
        assert isinstance(wrong_size.value.body, dict) and wrong_size.value.body["param"] == "mask"


async def test_the_fake_ark_upstream_both_formats(studio_factory: StudioFactory) -> None:
    async with FakeArkServer(api_key=ARK_KEY) as fake:
        studio: Studio = await studio_factory(
            app_password=PASSWORD, ark_api_key=ARK_KEY, ark_base_url=fake.base_url, result_url_hosts=["127.0.0.1"]
        )
        async with gateway(studio) as (base, sdk, token), aiohttp.ClientSession() as http:
            models = [m.id for m in (await sdk.models.list()).data]
            assert SEEDREAM_40 in models and "demo" in models
            as_b64 = await sdk.images.generate(model=SEEDREAM_40, prompt="a lighthouse", size="1280x720", response_format="b64_json")
            assert Image.open(io.BytesIO(base64.b64decode(as_b64.data[0].b64_json or ""))).format == "JPEG"
            as_url = await sdk.images.generate(model=SEEDREAM_40, prompt="a harbour", size="2K", response_format="url")
            async with http.get(as_url.data[0].url or "") as response:
                assert response.status == 200 and response.headers["Content-Type"] == "image/jpeg"
            assert [b["size"] for b in fake.stats.bodies_for("images.generations")] == ["1280x720", "2K"]
            history = await history_of(studio, token)
            assert [t["prompt"] for t in history] == ["a harbour", "a lighthouse"]
            assert all(t["provider"] == "ark" for t in history)
            assert ARK_KEY not in str(as_url)


async def test_a_revoked_token_answers_401_in_openais_shape(guarded: Studio) -> None:
    async with gateway(guarded) as (base, sdk, token):
        async with signed_in(guarded, "alice") as alice:
            [row] = (await alice.get("/api/v1/tokens")).json()["items"]
            assert (await alice.delete(f"/api/v1/tokens/{row['id']}")).status_code == 204
        with pytest.raises(openai.AuthenticationError) as refused:
            await sdk.images.generate(model="demo", prompt="anything")
        assert refused.value.status_code == 401
        body = refused.value.body
        assert isinstance(body, dict) and set(body) == {"message", "type", "param", "code"}
        assert body["type"] == "invalid_request_error" and body["code"] == "invalid_api_key"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/v1/models") as response:  # no key at all
                assert response.status == 401
                assert (await response.json())["error"]["code"] == "invalid_api_key"
        # The admin password is a Bearer secret too (as on /api), so OpenAI clients of the
        # single-password install work without a token.
        admin = AsyncOpenAI(base_url=f"{base}/v1", api_key=PASSWORD, max_retries=0)
        assert [m.id for m in (await admin.models.list()).data] == ["demo"]
        await admin.close()
        assert ADMIN["Authorization"].endswith(PASSWORD)


@pytest.mark.parametrize(
    ("kwargs", "status", "param"),
    [
        ({"model": "demo", "prompt": "x", "size": "99999x2"}, 400, "size"),
        ({"model": "no-such-model", "prompt": "x"}, 400, "model"),
        ({"model": "demo", "prompt": "x", "n": 9}, 400, "n"),
        ({"model": "demo", "prompt": ""}, 400, "prompt"),
    ],
)
async def test_bad_requests_answer_in_openais_shape(
    guarded: Studio, kwargs: dict[str, Any], status: int, param: str
) -> None:
    async with gateway(guarded) as (_base, sdk, _token):
        with pytest.raises(openai.APIStatusError) as refused:
            await sdk.images.generate(**kwargs)
    assert refused.value.status_code == status
    body = refused.value.body
    assert isinstance(body, dict) and body["type"] == "invalid_request_error", body
    assert body["param"] == param and body["message"]


async def test_a_budget_refusal_is_openais_insufficient_quota(studio_factory: StudioFactory) -> None:
    async with FakeArkServer(api_key=ARK_KEY) as fake:
        studio: Studio = await studio_factory(
            app_password=PASSWORD, ark_api_key=ARK_KEY, ark_base_url=fake.base_url, result_url_hosts=["127.0.0.1"]
        )
        await studio.client.put("/api/v1/usage/budgets", json={"daily_cny": 0.0001}, headers=ADMIN)
        async with gateway(studio) as (_base, sdk, _token):
            with pytest.raises(openai.RateLimitError) as refused:
                await sdk.images.generate(model=SEEDREAM_40, prompt="too dear")
        assert refused.value.status_code == 429
        body = refused.value.body
        assert isinstance(body, dict) and body["type"] == body["code"] == "insufficient_quota"
        assert fake.stats.bodies_for("images.generations") == []


async def test_a_call_that_outlasts_the_wait_answers_504_and_keeps_running(studio_factory: StudioFactory) -> None:
    studio: Studio = await studio_factory(app_password=PASSWORD, openai_wait_seconds=0.01)
    await make_member(studio, "alice")
    async with signed_in(studio, "alice") as alice:
        token = (await alice.post("/api/v1/tokens", json={"name": "t"})).json()["token"]
        async with serving(studio) as base:
            sdk = AsyncOpenAI(base_url=f"{base}/v1", api_key=token, max_retries=0)
            with pytest.raises(openai.APIStatusError) as late:
                await sdk.images.generate(model="demo", prompt="slow")  # no worker runs: it waits
            await sdk.close()
        assert late.value.status_code == 504
        body = late.value.body
        assert isinstance(body, dict) and body["code"] == "timeout"
        [task] = (await alice.get("/api/v1/tasks")).json()["items"]
        assert task["status"] == "pending" and task["task_id"] in body["message"]
