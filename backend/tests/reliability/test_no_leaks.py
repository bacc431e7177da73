"""No secret leaves the backend: with distinctive keys configured, a realistic session (both
upstreams, successes and failures, an upstream that quotes our Authorization header back, uploads,
history, favourites, zip download, inspect, errors, SSE) is run, then every place a key could end
up is searched: API response bodies and headers, log output, the SQLite files, stored images (and
the metadata inside them), the zip and its members, and the built SPA."""

from __future__ import annotations

import io
import json
import logging
import zipfile
from pathlib import Path

import httpx
import pytest
from PIL import Image

from app.storage import metadata as image_metadata
from tests.conftest import Studio, StudioFactory
from tests.reliability.conftest import (
    APP_PASSWORD,
    ARK_KEY,
    JIMENG_30,
    SECRETS,
    SEEDREAM_40,
    ArkFake,
    VisualFake,
    files_under,
    upstream_settings,
)

FRONTEND_DIST = Path(__file__).resolve().parents[3] / "frontend" / "dist"
# Every canary contains this; a partial or truncated copy of a key still counts.
MARK = "CANARY"


def _needles() -> list[str]:
    return [*SECRETS, MARK]


def _hits(where: str, text: str | bytes, found: list[str]) -> None:
    blob = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    for needle in _needles():
        if needle.encode() in blob:
            found.append(f"{where}: {needle}")


def _image_text(data: bytes) -> str:
    """What an image says about itself: our embedded metadata and anything Pillow finds."""
    parts = [json.dumps(image_metadata.read(data), default=str)]
    try:
        with Image.open(io.BytesIO(data)) as im:
            parts.append(repr(im.info))
    except Exception:  # thumbnails and odd files: the raw bytes are scanned anyway
        pass
    return "\n".join(parts)


async def _session(studio: Studio, ark: ArkFake, visual: VisualFake) -> list[httpx.Response]:
    responses: list[httpx.Response] = []
    client = studio.client

    async def keep(response: httpx.Response) -> None:
        await response.aread()
        responses.append(response)

    client.event_hooks["response"].append(keep)
    assert (await client.post("/api/v1/auth/login", json={"password": "wrong"})).status_code == 401
    assert (await client.post("/api/v1/auth/login", json={"password": APP_PASSWORD})).status_code == 204
    ark_ok = await studio.submit({"model": SEEDREAM_40, "size": "2K", "prompt": "harbour"})
    ark_group = await studio.submit({"model": SEEDREAM_40, "size": "2K", "prompt": "seasons [fault:partial:1]",
                                     "group": {"max_images": 3}})
    for marker in ("[fault:moderation-input]", "[fault:500:times=1]", "[fault:url-403]", "[fault:garbage]"):
        await studio.submit({"model": SEEDREAM_40, "size": "2K", "prompt": f"ark {marker}"})
    visual_ok = await studio.submit({"model": JIMENG_30, "width": 1024, "height": 1024, "prompt": "panda"})
    for marker in ("[fault:auth]", "[fault:moderation-output]", "[fault:expired]"):
        await studio.submit({"model": JIMENG_30, "width": 1024, "height": 1024, "prompt": f"visual {marker}"})
    await studio.run_jobs()
    # Upstreams that quote our own Authorization header back at us.
    ark.plan = ["echo-auth"]
    visual.plan = ["echo-auth"]
    await studio.submit({"model": SEEDREAM_40, "size": "2K", "prompt": "echo ark"})
    await studio.submit({"model": JIMENG_30, "width": 1024, "height": 1024, "prompt": "echo visual"})
    await studio.run_jobs()

    upload = await client.post("/api/v1/uploads", files={"file": ("ref.png", _png(), "image/png")})
    assert upload.status_code == 200
    await studio.submit({"model": "demo", "prompt": "edit", "images": [upload.json()["id"]]},
                        path="/api/v1/generate/image2image")
    await studio.run_jobs()

    tasks = (await client.get("/api/v1/tasks")).json()["items"]
    for task in tasks:
        await client.get(f"/api/v1/tasks/{task['task_id']}")
        await client.get(f"/api/v1/tasks/{task['task_id']}/events")
        for output in task["outputs"]:
            await client.get(output["url"])
            await client.get(output["thumbnail_url"])
    await client.post(f"/api/v1/tasks/{ark_ok}/retry")
    await client.patch(f"/api/v1/history/{ark_ok}", json={"favorite": True})
    await client.get("/api/v1/history", params={"q": "harbour"})
    await client.get("/api/v1/tasks/history")
    zip_response = await client.post("/api/v1/history/download", json={"ids": [ark_ok, ark_group, visual_ok]})
    assert zip_response.status_code == 200
    image = (await client.get((await studio.task(ark_ok))["outputs"][0]["url"])).content
    inspect = await client.post("/api/v1/images/inspect", files={"file": ("i.jpg", image, "image/jpeg")})
    assert inspect.json()["found"] is True
    for method, path in (("GET", "/api/v1/tasks/nope"), ("POST", "/api/v1/tasks/nope/cancel"),
                         ("GET", "/health"), ("GET", "/api/v1/models"), ("GET", "/openapi.json"), ("GET", "/docs"),
                         ("GET", "/api/v1/auth/status"), ("POST", "/api/v1/generate/text2image")):
        await client.request(method, path)
    await client.post("/api/v1/auth/logout")
    await client.get("/api/v1/tasks")  # 401 now
    return responses


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(out, format="PNG")
    return out.getvalue()


async def test_no_secret_anywhere(
    studio_factory: StudioFactory,
    ark_fake: ArkFake,
    visual_fake: VisualFake,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    studio: Studio = await studio_factory(
        app_password=APP_PASSWORD, log_level="DEBUG", **upstream_settings(ark_fake, visual_fake)
    )
    responses = await _session(studio, ark_fake, visual_fake)
    statuses = {r.status_code for r in responses}
    assert 200 in statuses and 401 in statuses and 404 in statuses
    # The session did reach both upstreams with the real credentials (else the scan proves nothing).
    assert ark_fake.stats.actions["images.generations"] >= 8
    assert visual_fake.stats.actions["CVSync2AsyncSubmitTask"] >= 4
    echoed = [t for t in (await studio.client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {APP_PASSWORD}"})).json()["items"]
              if t["prompt"].startswith("echo")]
    assert {t["error"]["code"] for t in echoed} == {"upstream_auth_failed"}

    found: list[str] = []
    scanned = {"responses": 0, "log lines": 0, "db files": 0, "stored files": 0, "zip members": 0, "spa files": 0}
    for response in responses:
        where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
        _hits(where + " body", response.content, found)
        _hits(where + " headers", "\n".join(f"{k}: {v}" for k, v in response.headers.multi_items()), found)
        scanned["responses"] += 1
        if response.headers.get("content-type") == "application/zip":
            with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
                for member in archive.namelist():
                    data = archive.read(member)
                    _hits(f"zip member {member}", data, found)
                    if not member.endswith(".json"):
                        _hits(f"zip member {member} metadata", _image_text(data), found)
                    scanned["zip members"] += 1
    assert scanned["zip members"] >= 4

    stderr = capsys.readouterr().err
    log_text = stderr + "\n" + caplog.text + "\n" + "\n".join(json.dumps(r.__dict__, default=str) for r in caplog.records)
    _hits("logs", log_text, found)
    scanned["log lines"] = log_text.count("\n")
    assert "upstream.retry" in log_text or "ark.request" in log_text  # the logs are really there

    data_dir = studio.services.store.output_dir.parent
    for db_file in data_dir.glob("app.db*"):
        _hits(f"database file {db_file.name}", db_file.read_bytes(), found)
        scanned["db files"] += 1
    for path in files_under(data_dir):
        if path.name.startswith("app.db"):
            continue
        data = path.read_bytes()
        _hits(f"stored file {path.relative_to(data_dir)}", data, found)
        _hits(f"stored file {path.relative_to(data_dir)} metadata", _image_text(data), found)
        scanned["stored files"] += 1
    assert scanned["stored files"] >= 8

    for path in files_under(FRONTEND_DIST):
        _hits(f"SPA {path.relative_to(FRONTEND_DIST)}", path.read_bytes(), found)
        scanned["spa files"] += 1

    (tmp_path / "leak-scan.json").write_text(json.dumps({"scanned": scanned, "hits": found}, indent=2))
    print(f"\nleak scan: {scanned}, hits: {len(found)}")
    assert found == []
    assert ARK_KEY not in json.dumps([r.headers.get("set-cookie", "") for r in responses])
