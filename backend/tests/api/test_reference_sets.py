"""Reference sets (issue 15, item 8): named sets of one's own uploads, stored once, listed, renamed,
refilled and deleted; used for a model only within its reference limit (a clear 422 otherwise);
theirs alone. And the upload itself, served back to its owner."""

from __future__ import annotations

import io
from typing import Any

import httpx
from PIL import Image
from sqlalchemy import func, select

from app.models.task import Upload
from tests.api.test_users import ZH, guarded, make_member, signed_in  # noqa: F401
from tests.chinese import assert_chinese
from tests.conftest import Studio

SETS = "/api/v1/reference-sets"


async def _upload(client: httpx.AsyncClient, colour: str) -> str:
    png = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(png, format="PNG")
    response = await client.post("/api/v1/uploads", files={"file": (f"{colour}.png", png.getvalue(), "image/png")})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def test_reference_sets_crud_and_use(studio: Studio) -> None:
    red, green, blue, white, black = [await _upload(studio.client, c) for c in ("red", "green", "blue", "white", "black")]
    made = await studio.client.post(SETS, json={"name": " Mascot ", "upload_ids": [red, green, red, blue]})
    assert made.status_code == 201, made.text
    mascot = made.json()
    # Duplicates dropped, order kept, each image described and servable.
    assert mascot["name"] == "Mascot"
    assert [i["upload_id"] for i in mascot["images"]] == [red, green, blue]
    first = mascot["images"][0]
    assert (first["width"], first["height"], first["content_type"]) == (64, 48, "image/png")
    served = await studio.client.get(first["url"])
    assert served.status_code == 200 and served.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(served.content)).size == (64, 48)

    # Stored once: a second set with the same image adds no upload.
    await studio.client.post(SETS, json={"name": "Red only", "upload_ids": [red]})
    async with studio.services.db.read() as session:
        assert (await session.execute(select(func.count()).select_from(Upload))).scalar_one() == 5

    listed = (await studio.client.get(SETS)).json()["items"]
    assert [(s["name"], len(s["images"])) for s in listed] == [("Mascot", 3), ("Red only", 1)]
    assert (await studio.client.get(f"{SETS}/{mascot['id']}")).json() == mascot

    # Within the model's limit (the demo model takes 4), counting what the form already holds.
    use = await studio.client.post(f"{SETS}/{mascot['id']}/use", json={"model": "demo"})
    assert use.status_code == 200 and [i["upload_id"] for i in use.json()["images"]] == [red, green, blue]
    assert (await studio.client.post(f"{SETS}/{mascot['id']}/use", json={"model": "demo", "already": 1})).status_code == 200
    over = await studio.client.post(f"{SETS}/{mascot['id']}/use", json={"model": "demo", "already": 2}, headers=ZH)
    assert over.status_code == 422
    error = over.json()["error"]
    assert error["code"] == "too_many_references" and error["details"] == {"limit": 4, "images": 3, "already": 2}
    assert_chinese(error["message"], verbatim=["demo", "Mascot"])
    english = (await studio.client.post(f"{SETS}/{mascot['id']}/use", json={"model": "demo", "already": 2})).json()
    assert english["error"]["message"] == (
        "'Mascot' has 3 images and demo takes at most 4 references (2 already in the form, room for 2); "
        "remove some or choose another model."
    )
    unknown_model = await studio.client.post(f"{SETS}/{mascot['id']}/use", json={"model": "nope"})
    assert unknown_model.status_code == 422 and unknown_model.json()["error"]["details"]["field"] == "model"
    no_refs = await studio.client.post(
        f"{SETS}/{mascot['id']}/use", json={"model": "doubao-seedream-3-0-t2i-250415"}, headers=ZH
    )
    assert no_refs.status_code == 422 and no_refs.json()["error"]["code"] == "references_not_supported"
    assert_chinese(no_refs.json()["error"]["message"], verbatim=["doubao-seedream-3-0-t2i-250415"])

    # The set's images make a job as they are (upload ids).
    job = await studio.client.post(
        "/api/v1/generate/image2image",
        json={"model": "demo", "prompt": "the mascot waving", "images": [i["upload_id"] for i in use.json()["images"]]},
    )
    assert job.status_code == 202, job.text

    # Rename, refill, delete.
    renamed = await studio.client.patch(f"{SETS}/{mascot['id']}", json={"name": "吉祥物"})
    assert renamed.json()["name"] == "吉祥物" and len(renamed.json()["images"]) == 3
    refilled = await studio.client.patch(f"{SETS}/{mascot['id']}", json={"upload_ids": [white, black]})
    assert [i["upload_id"] for i in refilled.json()["images"]] == [white, black]
    assert refilled.json()["name"] == "吉祥物"
    clash = await studio.client.patch(f"{SETS}/{mascot['id']}", json={"name": "Red only"}, headers=ZH)
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "reference_set_exists"
    assert_chinese(clash.json()["error"]["message"], verbatim=["Red only"])
    assert (await studio.client.delete(f"{SETS}/{mascot['id']}")).status_code == 204
    assert (await studio.client.get(f"{SETS}/{mascot['id']}")).status_code == 404
    # The images stay (the job and other sets use them).
    assert (await studio.client.get(f"/api/v1/uploads/{white}")).status_code == 200


async def test_reference_set_validation(studio: Studio) -> None:
    red = await _upload(studio.client, "red")
    bad_bodies: list[dict[str, Any]] = [
        {"name": "", "upload_ids": [red]}, {"name": "x", "upload_ids": []}, {"name": "x"},
        {"name": "x", "upload_ids": [red] * 15}, {"name": "x" * 101, "upload_ids": [red]},
        {"name": "x", "upload_ids": [red], "extra": 1},
    ]
    for body in bad_bodies:
        response = await studio.client.post(SETS, json=body, headers=ZH)
        assert response.status_code == 422, (body, response.text)
        error = response.json()["error"]
        assert_chinese(error["message"], verbatim=[error["details"]["field"]])
    missing = await studio.client.post(SETS, json={"name": "x", "upload_ids": [red, "f" * 64]}, headers=ZH)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "upload_not_found"
    assert_chinese(missing.json()["error"]["message"], verbatim=["f" * 12])
    assert (await studio.client.get(SETS)).json()["items"] == []  # nothing half-made
    assert (await studio.client.get("/api/v1/uploads/" + "0" * 64)).status_code == 404
    assert (await studio.client.get("/api/v1/uploads/not-an-id")).status_code == 404


async def test_reference_sets_and_uploads_are_per_member(guarded: Studio) -> None:  # noqa: F811
    await make_member(guarded, "alice")
    await make_member(guarded, "bob")
    async with signed_in(guarded, "alice") as alice, signed_in(guarded, "bob") as bob:
        hers = await _upload(alice, "purple")
        kept = (await alice.post(SETS, json={"name": "Alice's cat", "upload_ids": [hers]})).json()
        assert (await bob.get(SETS)).json()["items"] == []
        for method, path, body in [
            ("GET", f"{SETS}/{kept['id']}", None),
            ("PATCH", f"{SETS}/{kept['id']}", {"name": "mine"}),
            ("DELETE", f"{SETS}/{kept['id']}", None),
            ("POST", f"{SETS}/{kept['id']}/use", {"model": "demo"}),
            ("GET", f"/api/v1/uploads/{hers}", None),
        ]:
            response = await bob.request(method, path, json=body)
            assert response.status_code == 404, (method, path, response.text)
        # Another member's upload id cannot be put in one's own set either.
        assert (await bob.post(SETS, json={"name": "stolen", "upload_ids": [hers]})).status_code == 404
        # Uploading the same bytes makes them Bob's too (stored once, owned by both).
        assert await _upload(bob, "purple") == hers
        assert (await bob.post(SETS, json={"name": "mine too", "upload_ids": [hers]})).status_code == 201
        assert (await alice.get(f"{SETS}/{kept['id']}")).status_code == 200
