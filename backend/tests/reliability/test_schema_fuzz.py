"""Property-based fuzzing of every operation in /openapi.json, in-process over ASGI (schemathesis):
no answer is a 5xx and every documented response matches its schema. Bounded (examples per
operation) so it stays within ~30 s on two cores; set FUZZ_EXAMPLES to dig deeper."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from app.main import create_app
from tests.conftest import make_settings

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
# Loaded at import: schemathesis' lazy `from_fixture` does not work with this pytest (9.x).
_DATA = Path(tempfile.mkdtemp(prefix="studio-fuzz-"))
atexit.register(shutil.rmtree, _DATA, ignore_errors=True)
# No worker: queued jobs just wait; the fuzzer exercises the HTTP surface, not the upstreams.
app = create_app(make_settings(_DATA / "data"), start_worker=False)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module", autouse=True)
def _shutdown_app() -> Iterator[None]:
    yield
    asgi.shutdown_lifespans()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api_never_answers_5xx_and_matches_its_schema(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error, response_schema_conformance, content_type_conformance])
