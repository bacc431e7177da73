"""Layer decomposition on Ark: the request field, layered answers (JSON and stream), garbage."""

from __future__ import annotations

import base64
import dataclasses
import io
from typing import Any

import aiohttp
import pytest
from PIL import Image

from app.core.errors import ContentModeration, UpstreamBadResponse
from app.providers.ark import ArkProvider, build_body
from app.providers.base import GenerationRequest, LayerResult
from app.providers.catalog.builtin import BUILTIN_MODELS
from app.providers.catalog.specs import ModelSpec
from app.providers.download import ResultFetcher
from app.providers.layers import MAX_LAYERS, complete_boxes, parse_layered
from app.providers.transport import Service
from tests.fakes.ark import ACTION, SEEDREAM_50_PRO, FakeArkServer
from tests.fakes.ark_layers import boxes
from tests.providers.conftest import RecordingContext, provider_settings

PRO = next(spec for spec in BUILTIN_MODELS if spec.id == SEEDREAM_50_PRO)
SERVICE = Service("Ark", "方舟")


class _OneModel:
    """The part of the running catalogue the provider reads."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec

    def all(self) -> list[ModelSpec]:
        return [self.spec]


def _request(**fields: Any) -> GenerationRequest:
    values: dict[str, Any] = {
        "model": SEEDREAM_50_PRO, "mode": "text2image", "prompt": "a poster", "width": 1024, "height": 1024,
        "output_format": "png", "layer_decomposition": True,
    }
    values.update(fields)
    return GenerationRequest(**values)


async def _run(
    fake: FakeArkServer, session: aiohttp.ClientSession, request: GenerationRequest, *, streaming: bool = False
) -> RecordingContext:
    settings = provider_settings(ark_base_url=fake.base_url)
    ctx = RecordingContext(ResultFetcher(settings, session))
    catalog = _OneModel(dataclasses.replace(PRO, streaming=streaming))
    await ArkProvider(settings, session, catalog=catalog).generate(request, ctx)  # type: ignore[arg-type]
    return ctx


# --------------------------------------------------------------------------------------------
# Request shaping


def test_the_body_asks_for_layers_only_when_the_request_does() -> None:
    body = build_body(_request(), spec=PRO)
    assert body["layer_decomposition"] is True
    assert body["output_format"] == "png"
    # 5.0 Pro is not listed as streaming: no stream key at all (the fake refuses one it does not take).
    assert "stream" not in body
    assert "layer_decomposition" not in build_body(_request(layer_decomposition=False), spec=PRO)


def test_a_streaming_model_gets_its_layers_as_frames() -> None:
    body = build_body(_request(), stream=True, spec=dataclasses.replace(PRO, streaming=True))
    assert body["stream"] is True and body["layer_decomposition"] is True


# --------------------------------------------------------------------------------------------
# Answers from the fake upstream


@pytest.mark.parametrize("streaming", [False, True])
async def test_a_layered_answer_is_one_image_with_its_layers(
    ark_fake: FakeArkServer, http_session: aiohttp.ClientSession, streaming: bool
) -> None:
    ctx = await _run(ark_fake, http_session, _request(), streaming=streaming)
    sent = ark_fake.stats.bodies_for(ACTION)[0]
    assert sent["layer_decomposition"] is True and sent.get("stream", False) is streaming
    assert list(ctx.images) == [0]
    data, content_type, result = ctx.images[0]
    assert content_type == "image/png"
    with Image.open(io.BytesIO(data)) as base:
        width, height = base.size
    assert [layer.z_index for layer in result.layers] == [1, 2, 3]
    expected = boxes(width, height, 3)
    for layer, box in zip(result.layers, expected, strict=True):
        assert layer.url is not None and layer.box == box
        assert layer.box_normalized == tuple(
            round(v * 1000 / side) for v, side in zip(box, (width, height, width, height), strict=True)
        )
        assert layer.name and layer.description and layer.output_format == "png"
    assert ctx.billed == 1


async def test_layers_without_their_optional_fields_are_kept(
    ark_fake: FakeArkServer, http_session: aiohttp.ClientSession
) -> None:
    ctx = await _run(ark_fake, http_session, _request(prompt="bare [fault:layers-bare]"))
    layers = ctx.images[0][2].layers
    assert len(layers) == 3
    assert all(layer.box is None and layer.box_normalized is None and layer.name is None for layer in layers)


async def test_normalised_boxes_alone_are_enough(ark_fake: FakeArkServer, http_session: aiohttp.ClientSession) -> None:
    ctx = await _run(ark_fake, http_session, _request(prompt="n [fault:layers-normalized]"))
    layers = ctx.images[0][2].layers
    assert all(layer.box is None and layer.box_normalized is not None for layer in layers)


@pytest.mark.parametrize(
    ("marker", "words"),
    [("layers-garbage", "bounding_box"), ("layers-nobase", "no base image")],
)
@pytest.mark.parametrize("streaming", [False, True])
async def test_an_unusable_layered_answer_is_a_clear_error(
    ark_fake: FakeArkServer, http_session: aiohttp.ClientSession, marker: str, words: str, streaming: bool
) -> None:
    with pytest.raises(UpstreamBadResponse) as info:
        await _run(ark_fake, http_session, _request(prompt=f"x [fault:{marker}]"), streaming=streaming)
    assert words in info.value.message
    assert info.value.message_zh
    # Billed work is not asked for again.
    assert ark_fake.stats.actions[ACTION] == 1


async def test_a_failed_layer_frame_fails_the_set(ark_fake: FakeArkServer, http_session: aiohttp.ClientSession) -> None:
    with pytest.raises(ContentModeration):
        await _run(ark_fake, http_session, _request(prompt="x [fault:layer-failed]"), streaming=True)


async def test_b64_layers_arrive_as_bytes(ark_fake: FakeArkServer, http_session: aiohttp.ClientSession) -> None:
    settings = provider_settings(ark_base_url=ark_fake.base_url)

    class B64(ArkProvider):
        def _body(self, request: GenerationRequest, *, stream: bool = False) -> bytes:
            return super()._body(request, stream=stream).replace(b'"response_format": "url"', b'"response_format": "b64_json"')

    ctx = RecordingContext(ResultFetcher(settings, http_session))
    await B64(settings, http_session).generate(_request(), ctx)
    layers = ctx.images[0][2].layers
    assert layers and all(layer.data is not None and layer.url is None for layer in layers)
    with Image.open(io.BytesIO(layers[0].data or b"")) as im:
        assert im.mode == "RGBA"


async def test_the_fake_refuses_layers_on_a_model_without_them(
    ark_fake: FakeArkServer, http_session: aiohttp.ClientSession
) -> None:
    from app.core.errors import UpstreamBadRequest

    with pytest.raises(UpstreamBadRequest):
        await _run(ark_fake, http_session, _request(model="doubao-seedream-4-0-250828", output_format=None))


# --------------------------------------------------------------------------------------------
# Parsing rules


def _png_b64() -> str:
    out = io.BytesIO()
    Image.new("RGBA", (2, 2), (0, 0, 0, 0)).save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


def test_layers_are_stacked_by_z_index_with_the_answers_order_breaking_ties() -> None:
    items = [
        {"url": "http://x/l3", "z_index": 3, "bounding_box": {"absolute": [0, 0, 1, 1]}},
        {"url": "http://x/base", "size": "10x10"},
        {"url": "http://x/l1a", "z_index": 1, "name": "  first  "},
        {"url": "http://x/l1b", "z_index": 1},
    ]
    result = parse_layered(2, items, seed=7, service=SERVICE)
    assert result.index == 2 and result.url == "http://x/base" and result.seed == 7
    assert [layer.url for layer in result.layers] == ["http://x/l1a", "http://x/l1b", "http://x/l3"]
    assert result.layers[0].name == "first"


def test_a_layer_with_a_box_but_no_z_index_keeps_its_place() -> None:
    items = [{"b64_json": _png_b64()}, {"b64_json": _png_b64(), "bounding_box": {"normalized": [0, 0, 500, 500]}}]
    result = parse_layered(0, items, seed=None, service=SERVICE)
    assert result.data is not None and result.layers[0].z_index == 1 and result.layers[0].data is not None


@pytest.mark.parametrize(
    "layer",
    [
        {"url": "http://x/l", "z_index": 1, "bounding_box": {"absolute": [5, 0, 1, 1]}},  # x0 > x1
        {"url": "http://x/l", "z_index": 1, "bounding_box": {"normalized": [0, 0, 1001, 5]}},  # past 1000
        {"url": "http://x/l", "z_index": 1, "bounding_box": {"absolute": [0, 0, "1", 1]}},
        {"url": "http://x/l", "z_index": 1, "bounding_box": [0, 0, 1, 1]},
        {"url": "http://x/l", "z_index": -2},
        {"z_index": 1, "bounding_box": {"absolute": [0, 0, 1, 1]}},  # no pixels
        {"b64_json": "not base64!", "z_index": 1},
    ],
)
def test_garbage_layers_are_refused(layer: dict[str, Any]) -> None:
    with pytest.raises(UpstreamBadResponse):
        parse_layered(0, [{"url": "http://x/base"}, layer], seed=None, service=SERVICE)


def test_two_bases_or_too_many_layers_are_refused() -> None:
    with pytest.raises(UpstreamBadResponse, match="two base images"):
        parse_layered(0, [{"url": "http://x/a"}, {"url": "http://x/b"}], seed=None, service=SERVICE)
    many = [{"url": "http://x/base"}] + [{"url": f"http://x/{i}", "z_index": i + 1} for i in range(MAX_LAYERS + 1)]
    with pytest.raises(UpstreamBadResponse, match="more than"):
        parse_layered(0, many, seed=None, service=SERVICE)
    with pytest.raises(UpstreamBadResponse):
        parse_layered(0, [], seed=None, service=SERVICE)


def test_the_missing_box_form_is_derived_and_boxes_are_clipped_to_the_canvas() -> None:
    absolute_only = LayerResult(z_index=1, box=(100, 50, 300, 250))
    assert complete_boxes(absolute_only, 400, 200) == ((100, 50, 300, 200), (250, 250, 750, 1000))
    normalized_only = LayerResult(z_index=1, box_normalized=(0, 500, 250, 1000))
    assert complete_boxes(normalized_only, 400, 200) == ((0, 100, 100, 200), (0, 500, 250, 1000))
    assert complete_boxes(LayerResult(z_index=1), 400, 200) == (None, None)
