"""STORAGE_BACKEND=s3 through the API: generate -> history -> image -> zip -> delete, with the images in
a bucket of an S3-compatible server (moto) on 127.0.0.1, served by presigned redirects only."""

from __future__ import annotations

import io
import zipfile
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.storage.objects import OUTPUT, ObjectImageStore
from tests.api.test_users import PASSWORD, generate, make_member, signed_in
from tests.conftest import Studio, StudioFactory, s3_overrides
from tests.s3server import SECRET_KEY, MotoServer

DEMO = {"model": "demo", "prompt": "雨中的灯塔 a lighthouse in rain", "width": 256, "height": 256}


@pytest.fixture
async def on_s3(studio_factory: StudioFactory, moto_server: MotoServer) -> Studio:
    studio: Studio = await studio_factory(**s3_overrides(moto_server))
    return studio


def _store(studio: Studio) -> ObjectImageStore:
    store = studio.services.store
    assert isinstance(store, ObjectImageStore)
    return store


async def test_generate_history_image_zip_and_delete_on_s3(on_s3: Studio) -> None:
    store = _store(on_s3)
    response = await on_s3.client.post("/api/v1/generate/text2image", json={**DEMO, "num_images": 2})
    assert response.status_code == 202, response.text
    await on_s3.run_jobs()
    task = await on_s3.task(response.json()["task_id"])
    assert task["status"] == "completed" and len(task["outputs"]) == 2
    assert all(not output["missing"] for output in task["outputs"])

    # Nothing on the local disk: every output is an object.
    assert not on_s3.services.settings.output_dir.exists() or not any(on_s3.services.settings.output_dir.rglob("*.png"))
    keys = sorted(found.key for found in store.client.list_objects(OUTPUT))
    expected = sorted(OUTPUT + path for o in task["outputs"] for path in (o["url"][8:], o["thumbnail_url"][8:]))
    assert keys == expected

    history = (await on_s3.client.get("/api/v1/history", params={"q": "灯塔"})).json()
    assert [item["task_id"] for item in history["items"]] == [task["task_id"]]

    # The image route answers a redirect to a presigned URL; the bytes come from the bucket.
    output = task["outputs"][0]
    redirect = await on_s3.client.get(output["url"])
    assert redirect.status_code == 302 and redirect.headers["cache-control"] == "no-store"
    location = redirect.headers["location"]
    assert location.startswith(store.config.endpoint + "/") and SECRET_KEY not in location
    assert parse_qs(urlsplit(location).query)["X-Amz-Expires"] == ["300"]
    image = httpx.get(location)
    assert image.status_code == 200 and image.content == store.read_output(output["url"][8:])
    assert len(image.content) == output["bytes"]
    thumb = await on_s3.client.get(output["thumbnail_url"])
    assert thumb.status_code == 302
    assert httpx.get(thumb.headers["location"]).headers["content-type"] == "image/webp"

    # The zip streams the objects.
    archive = await on_s3.client.post("/api/v1/history/download", json={"ids": [task["task_id"]]})
    assert archive.status_code == 200
    members = zipfile.ZipFile(io.BytesIO(archive.content))
    pngs = sorted(name for name in members.namelist() if name.endswith(".png"))
    assert len(pngs) == 2 and image.content in [members.read(name) for name in pngs]

    # Deleting the history entry deletes its objects.
    assert (await on_s3.client.delete(f"/api/v1/history/{task['task_id']}")).status_code == 204
    assert list(store.client.list_objects(OUTPUT)) == []
    assert (await on_s3.client.get(output["url"])).status_code == 404


async def test_a_guessed_or_foreign_image_url_opens_nothing(studio_factory: StudioFactory, moto_server: MotoServer) -> None:
    studio: Studio = await studio_factory(app_password=PASSWORD, **s3_overrides(moto_server))
    await make_member(studio, "alice")
    await make_member(studio, "bob")
    async with signed_in(studio, "alice") as alice, signed_in(studio, "bob") as bob:
        mine = await generate(studio, alice, "alice's lighthouse")
        url, thumb = mine["outputs"][0]["url"], mine["outputs"][0]["thumbnail_url"]
        assert (await alice.get(url)).status_code == 302
        # Another member, and nobody at all, get no redirect: no presigned URL is ever made for them.
        stranger = httpx.AsyncClient(transport=httpx.ASGITransport(app=studio.app), base_url="http://testserver")
        async with stranger:
            for client, status in ((bob, 404), (stranger, 401)):
                for path in (url, thumb, url.replace(".png", "x.png")):
                    answer = await client.get(path)
                    assert answer.status_code in (status, 404) and "location" not in answer.headers


async def test_health_reports_the_bucket(on_s3: Studio) -> None:
    healthy = (await on_s3.client.get("/health")).json()
    assert healthy["status"] == "healthy" and healthy["storage"] == "ok"

    store = _store(on_s3)
    store.client._request("DELETE", None, ok=(204,))  # the bucket is gone (it was empty)
    sick = await on_s3.client.get("/health")
    body = sick.json()
    assert body["status"] == "unhealthy"
    assert store.config.bucket in body["storage"] and "NoSuchBucket" in body["storage"]
    assert SECRET_KEY not in sick.text


async def test_a_generation_with_the_bucket_gone_fails_with_a_bilingual_reason(on_s3: Studio) -> None:
    _store(on_s3).client._request("DELETE", None, ok=(204,))
    response = await on_s3.client.post("/api/v1/generate/text2image", json=DEMO)
    assert response.status_code == 202
    await on_s3.run_jobs()
    task = await on_s3.task(response.json()["task_id"])
    assert task["status"] == "failed"
    assert task["error"]["code"] == "storage_unavailable"
    assert "对象存储" in task["error"]["message_zh"] and SECRET_KEY not in str(task)
