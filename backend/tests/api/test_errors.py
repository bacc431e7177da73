"""Bad input never yields a 5xx: exact error bodies for each refusal."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.conftest import Studio

T2I = "/api/v1/generate/text2image"


async def test_malformed_json(studio: Studio) -> None:
    r = await studio.client.post(T2I, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    body = r.json()
    assert body["error"]["code"] == "invalid_request"
    assert body["error"]["message"] == "The request body is not valid JSON."


async def test_malformed_json_in_chinese(studio: Studio) -> None:
    r = await studio.client.post(
        T2I, content=b"[", headers={"content-type": "application/json", "accept-language": "zh-CN,zh;q=0.9,en;q=0.8"}
    )
    assert r.json()["error"]["message"] == "请求体不是有效的 JSON。"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": 123}, "prompt"),
        ({"prompt": "x", "num_images": 9}, "num_images"),
        ({"prompt": "x", "seed": "abc"}, "seed"),
        ({"prompt": "x", "width": -5, "height": 10}, "width"),
        ({"prompt": "x", "unknown_field": 1}, "unknown_field"),
        ({"prompt": "x" * 5000}, "prompt"),
    ],
)
async def test_schema_errors_name_the_field(studio: Studio, body: dict, field: str) -> None:
    r = await studio.client.post(T2I, json=body)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["details"]["field"] == field
    assert field in error["message"]


async def test_unknown_model(studio: Studio) -> None:
    r = await studio.client.post(T2I, json={"model": "no-such-model", "prompt": "x"})
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["details"]["field"] == "model"


async def test_unavailable_model_without_credentials(studio: Studio) -> None:
    r = await studio.client.post(T2I, json={"model": "doubao-seedream-4-0-250828", "prompt": "x"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "model_unavailable"


async def test_size_out_of_range_for_model(studio: Studio) -> None:
    r = await studio.client.post(T2I, json={"model": "demo", "prompt": "x", "width": 10, "height": 10})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_request"


async def test_too_many_refs(studio: Studio) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32)).save(buf, "PNG")
    up = (await studio.client.post("/api/v1/uploads", files={"file": ("a.png", buf.getvalue(), "image/png")})).json()
    r = await studio.client.post(
        "/api/v1/generate/image2image", json={"model": "demo", "prompt": "x", "images": [up["id"]] * 15}
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_request"
    assert r.json()["error"]["details"]["field"] == "images"


async def test_reference_url_is_refused_no_ssrf(studio: Studio) -> None:
    r = await studio.client.post(
        "/api/v1/generate/image2image", json={"model": "demo", "prompt": "x", "images": ["http://169.254.169.254/latest"]}
    )
    assert r.status_code == 422
    assert r.json()["error"]["details"]["field"] == "images[0]"


async def test_unknown_upload_id(studio: Studio) -> None:
    r = await studio.client.post(
        "/api/v1/generate/image2image", json={"model": "demo", "prompt": "x", "images": ["a" * 64]}
    )
    assert r.status_code == 422
    assert r.json()["error"]["details"]["field"] == "images[0]"


async def test_upload_non_image(studio: Studio) -> None:
    r = await studio.client.post("/api/v1/uploads", files={"file": ("x.png", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/png")})
    assert r.status_code == 415
    assert r.json()["error"]["code"] == "unsupported_media_type"


async def test_upload_empty(studio: Studio) -> None:
    r = await studio.client.post("/api/v1/uploads", files={"file": ("x.png", b"", "image/png")})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_request"


async def test_upload_too_large(studio: Studio) -> None:
    r = await studio.client.post("/api/v1/uploads", files={"file": ("x.png", b"\x89PNG" + b"0" * (11 * 1024 * 1024), "image/png")})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"


async def test_upload_missing_field(studio: Studio) -> None:
    r = await studio.client.post("/api/v1/uploads", files={"other": ("x.png", b"abc", "image/png")})
    assert r.status_code == 422
    assert r.json()["error"]["details"]["field"] == "file"


async def test_unknown_task(studio: Studio) -> None:
    for method, path in [
        ("GET", "/api/v1/tasks/nope"),
        ("GET", "/api/v1/tasks/nope/events"),
        ("POST", "/api/v1/tasks/nope/cancel"),
        ("POST", "/api/v1/tasks/nope/retry"),
        ("DELETE", "/api/v1/history/nope"),
    ]:
        r = await studio.client.request(method, path)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json() == {"error": {"code": "not_found", "message": "Task 'nope' does not exist."}}
    r = await studio.client.patch("/api/v1/history/nope", json={"favorite": True})
    assert r.status_code == 404


async def test_unknown_route_is_json_404(studio: Studio) -> None:
    r = await studio.client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "path",
    [
        "/images/../app.db",
        "/images/..%2fapp.db",
        "/images/%2e%2e/%2e%2e/etc/passwd",
        "/images/2026/01/01/../../../../app.db",
        "/images//etc/passwd",
        "/images/2026/01/01/x.png%00.png",
    ],
)
async def test_path_traversal_under_images(studio: Studio, path: str) -> None:
    r = await studio.client.get(path)
    assert r.status_code in (400, 404)
    assert b"SQLite" not in r.content and b"root:" not in r.content


async def test_bad_history_query(studio: Studio) -> None:
    r = await studio.client.get("/api/v1/history", params={"page": 0})
    assert r.status_code == 422
    assert r.json()["error"]["details"]["field"] == "page"
    r = await studio.client.get("/api/v1/history", params={"favorite": "maybe"})
    assert r.status_code == 422


async def test_deeply_nested_json_is_a_4xx(studio: Studio) -> None:
    nested = "[" * 5000 + "]" * 5000
    r = await studio.client.post(T2I, content=nested.encode(), headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500
