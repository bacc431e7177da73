"""The offline demo provider: exact sizes, determinism, checkpoints, markers."""

from __future__ import annotations

import asyncio
import io
import random
from dataclasses import replace
from typing import Any

import pytest
from PIL import Image, ImageStat

from app.core.errors import JobCancelled, ProviderError, UpstreamBadRequest
from app.providers.base import GenerationRequest, ImageResult, ReferenceImage
from app.providers.catalog.lookup import Catalog
from app.providers.catalog.validation import validate_request
from app.providers.demo import (
    SEED_LIMIT,
    STATE_SEED_KEY,
    DemoProvider,
    DemoScene,
    render_png,
    request_dimensions,
)
from app.schemas.generation import GenerateIn, Image2ImageIn

from .test_catalog import make_settings


class FakeContext:
    """A JobContext that records what the provider does."""

    def __init__(self, *, done: set[int] | None = None, cancel_after: int | None = None, state: dict[str, Any] | None = None) -> None:
        self._state: dict[str, Any] = dict(state or {})
        self.saves: list[dict[str, Any]] = []
        self.delivered: list[ImageResult] = []
        self.failed: list[tuple[int, ProviderError]] = []
        self.expected: list[int] = []
        self._done = set(done or ())
        self._cancel_after = cancel_after

    @property
    def state(self) -> dict[str, Any]:
        return self._state

    async def save_state(self, **values: Any) -> None:
        self.saves.append(values)
        self._state.update(values)

    def is_done(self, index: int) -> bool:
        return index in self._done

    async def deliver(self, result: ImageResult) -> None:
        self.delivered.append(result)
        self._done.add(result.index)

    async def fail_image(self, index: int, error: ProviderError) -> None:
        self.failed.append((index, error))

    async def set_expected(self, count: int) -> None:
        self.expected.append(count)

    def check_cancelled(self) -> None:
        if self._cancel_after is not None and len(self.delivered) >= self._cancel_after:
            raise JobCancelled()


def request(**overrides: Any) -> GenerationRequest:
    values: dict[str, Any] = {"model": "demo", "mode": "text2image", "prompt": "a red fox in snow", "width": 256, "height": 256, "seed": 1}
    values.update(overrides)
    return GenerationRequest(**values)


def decode(data: bytes | None) -> Image.Image:
    assert data is not None
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    image.load()
    return image


def solid_png(color: tuple[int, int, int], size: tuple[int, int] = (300, 200), fmt: str = "PNG") -> ReferenceImage:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt)
    return ReferenceImage(data=buf.getvalue(), content_type=f"image/{fmt.lower()}", width=size[0], height=size[1])


async def run(req: GenerationRequest, ctx: FakeContext | None = None, **provider_args: Any) -> FakeContext:
    ctx = ctx or FakeContext()
    await DemoProvider(**provider_args).generate(req, ctx)
    return ctx


@pytest.mark.parametrize(("width", "height"), [(256, 256), (512, 384), (300, 2048), (2048, 256), (1000, 1001)])
async def test_png_at_exactly_the_requested_size(width: int, height: int) -> None:
    ctx = await run(request(width=width, height=height))
    [result] = ctx.delivered
    assert decode(result.data).size == (width, height)
    assert result.size == f"{width}x{height}" and result.index == 0 and result.seed == 1 and result.url is None


async def test_default_size_is_1024() -> None:
    ctx = await run(request(width=None, height=None))
    assert decode(ctx.delivered[0].data).size == (1024, 1024)


async def test_deterministic() -> None:
    first = (await run(request())).delivered[0].data
    assert first == (await run(request())).delivered[0].data
    assert first != (await run(request(seed=2))).delivered[0].data
    assert first != (await run(request(prompt="a blue fox"))).delivered[0].data
    assert first != (await run(request(width=256, height=257))).delivered[0].data


async def test_marked_demo() -> None:
    image = decode((await run(request(width=512, height=512))).delivered[0].data).convert("RGB")
    # The big white "DEMO" title sits across the middle.
    middle = image.crop((0, 180, 512, 300))
    white = middle.convert("L").histogram()[255]
    assert white > 2000


async def test_independent_images_have_consecutive_reproducible_seeds() -> None:
    ctx = await run(request(num_images=3, seed=SEED_LIMIT - 2))
    assert [r.index for r in ctx.delivered] == [0, 1, 2]
    assert [r.seed for r in ctx.delivered] == [SEED_LIMIT - 2, SEED_LIMIT - 1, 0]
    assert len({r.data for r in ctx.delivered}) == 3
    assert ctx.expected == []  # only groups learn their count late
    # Image 1 on its own, asked for with its reported seed, is the same picture.
    alone = await run(request(seed=SEED_LIMIT - 1))
    assert alone.delivered[0].seed == SEED_LIMIT - 1
    assert alone.delivered[0].data == ctx.delivered[1].data


@pytest.mark.parametrize("seed", [None, -1])
async def test_random_seed_is_reported_and_checkpointed(seed: int | None) -> None:
    ctx = await run(request(seed=seed, num_images=2), rng=random.Random(7))
    drawn = random.Random(7).randrange(SEED_LIMIT)
    assert [r.seed for r in ctx.delivered] == [drawn, (drawn + 1) % SEED_LIMIT]
    assert ctx.saves == [{STATE_SEED_KEY: drawn}]
    # The reported seed reproduces the image.
    again = await run(request(seed=drawn))
    assert again.delivered[0].data == ctx.delivered[0].data


async def test_second_run_reuses_the_saved_seed_and_skips_done_images() -> None:
    ctx = FakeContext(cancel_after=1)
    with pytest.raises(JobCancelled):
        await DemoProvider(rng=random.Random(1)).generate(request(seed=None, num_images=3), ctx)
    assert [r.index for r in ctx.delivered] == [0]
    # The job runs again (new context, same persisted state and stored image 0).
    resumed = FakeContext(done={0}, state=ctx.state)
    await DemoProvider(rng=random.Random(99)).generate(request(seed=None, num_images=3), resumed)
    assert [r.index for r in resumed.delivered] == [1, 2]
    assert resumed.saves == []
    base = ctx.delivered[0].seed
    assert base is not None
    assert [r.seed for r in resumed.delivered] == [base + 1, base + 2]


async def test_group_sets_expected_count_first() -> None:
    ctx = await run(request(group_max_images=4, width=256, height=256))
    assert ctx.expected == [4]
    assert [r.index for r in ctx.delivered] == [0, 1, 2, 3]


async def test_cancel_is_checked_between_images() -> None:
    ctx = FakeContext(cancel_after=2)
    with pytest.raises(JobCancelled):
        await DemoProvider().generate(request(num_images=4), ctx)
    assert [r.index for r in ctx.delivered] == [0, 1]


async def test_image2image_blends_the_first_reference() -> None:
    red = solid_png((230, 10, 10))
    base = request(mode="image2image", width=320, height=240, strength=1.0)
    plain = decode((await run(base)).delivered[0].data).convert("RGB")
    with_ref = decode((await run(replace(base, references=(red, solid_png((0, 0, 255)))))).delivered[0].data).convert("RGB")
    assert with_ref.size == (320, 240)
    corner = (0, 0, 60, 60)  # away from the title and the caption
    r_plain = ImageStat.Stat(plain.crop(corner)).mean[0]
    r_ref, g_ref, b_ref = ImageStat.Stat(with_ref.crop(corner)).mean
    assert r_ref > r_plain or r_plain > 200
    assert r_ref > g_ref and r_ref > b_ref  # the first (red) reference, not the blue one


async def test_jpeg_reference_and_strength_changes_result() -> None:
    ref = solid_png((20, 200, 20), size=(640, 480), fmt="JPEG")
    low = await run(request(mode="image2image", references=(ref,), strength=0.0))
    high = await run(request(mode="image2image", references=(ref,), strength=1.0))
    assert low.delivered[0].data != high.delivered[0].data
    g_low = ImageStat.Stat(decode(low.delivered[0].data).convert("RGB").crop((0, 0, 40, 40))).mean[1]
    g_high = ImageStat.Stat(decode(high.delivered[0].data).convert("RGB").crop((0, 0, 40, 40))).mean[1]
    assert g_high > g_low


async def test_fail_marker() -> None:
    ctx = FakeContext()
    with pytest.raises(UpstreamBadRequest) as err:
        await DemoProvider().generate(request(prompt="please [demo:fail] now"), ctx)
    assert str(err.value) == "Demo failure requested by the prompt marker [demo:fail]"
    assert err.value.code == "upstream_error" and err.value.retryable is False
    assert ctx.delivered == []


async def test_slow_marker_waits_three_seconds() -> None:
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    ctx = await run(request(prompt="[demo:slow] a fox"), sleep=fake_sleep)
    assert waits == [3.0]
    assert len(ctx.delivered) == 1
    await run(request(), sleep=fake_sleep)
    assert waits == [3.0]


async def test_slow_marker_is_cancellable() -> None:
    entered = asyncio.Event()

    async def blocking_sleep(seconds: float) -> None:
        entered.set()
        await asyncio.Future()  # never resolves; only cancellation ends it

    ctx = FakeContext()
    task = asyncio.create_task(DemoProvider(sleep=blocking_sleep).generate(request(prompt="[demo:slow]"), ctx))
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert ctx.delivered == []


def test_non_latin_prompt_renders() -> None:
    data = render_png(DemoScene("一只戴着宇航员头盔的橘猫", "", None, 3, 400, 300))
    assert decode(data).size == (400, 300)
    assert data != render_png(DemoScene("一只猫", "", None, 3, 400, 300))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"width": 640, "height": 480}, (640, 480)),
        ({"width": None, "height": None, "size": "800x600"}, (800, 600)),
        ({"width": None, "height": None, "size": "2K"}, (2048, 2048)),
        ({"width": None, "height": None, "size": None}, (1024, 1024)),
        ({"width": None, "height": None, "size": "adaptive", "references": (ReferenceImage(b"", "image/png", 2000, 1000),)}, (1448, 728)),
    ],
)
def test_request_dimensions(overrides: dict[str, Any], expected: tuple[int, int]) -> None:
    assert request_dimensions(request(**overrides)) == expected


async def test_through_validation() -> None:
    catalog = Catalog.from_settings(make_settings())
    spec = catalog.get(catalog.default_model)
    assert spec.id == "demo"
    req = validate_request(spec, GenerateIn(prompt="hello", size="512x256", num_images=2, seed=10).to_input(), mode="text2image", references=[], available=True)
    ctx = await run(req)
    assert [decode(r.data).size for r in ctx.delivered] == [(512, 256), (512, 256)]
    assert [r.seed for r in ctx.delivered] == [10, 11]

    ref = solid_png((0, 0, 0))
    i2i = validate_request(spec, Image2ImageIn(prompt="edit", images=["x"], group={"max_images": 2}).to_input(), mode="image2image", references=[ref], available=True)
    ctx = await run(i2i)
    assert ctx.expected == [2] and len(ctx.delivered) == 2
    assert decode(ctx.delivered[0].data).size == (1024, 1024)
