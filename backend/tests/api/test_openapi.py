from __future__ import annotations

import json
import re

from tests.conftest import Studio


async def test_openapi_has_no_dangling_refs_and_stable_operation_ids(studio: Studio) -> None:
    r = await studio.client.get("/openapi.json")
    assert r.status_code == 200
    schema = r.json()
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(schema)))
    assert refs <= set(schema["components"]["schemas"])
    assert "Image2ImageIn" in schema["components"]["schemas"]
    ops = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    assert {"generate-text2image", "generate-image2image", "tasks-get_task", "history-list_history"} <= ops
