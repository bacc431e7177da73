"""The offline demo provider: real PNGs, made locally, visibly marked "DEMO".

It lets the whole app (queue, storage, thumbnails, history, UI) run without credentials. Output is
deterministic: the same prompt, negative prompt, guidance, size and seed (plus, for
image-to-image, the same first reference and strength) give the same bytes with a given Pillow
version. Image ``i`` of a request with seed ``s`` is rendered with seed ``s + i`` and
reports that seed, so any single image can be reproduced on its own. Without a seed (or with
``-1``) a random one is drawn once per job and kept in the job state, so a job that runs twice
renders the same images.

Prompt markers, for trying the UI's other paths offline:
- ``[demo:fail]`` fails the job with ``UpstreamBadRequest`` before any image is made.
- ``[demo:slow]`` waits 3 seconds (cancellable) before rendering.

With ``layer_decomposition`` each image comes with transparent layers (``app.providers.demo_layers``).

Speed: the background is drawn as a palette ("P") image, one byte per pixel, from a small canvas
scaled up, and saved with zlib level 1; 512x512 renders in a few milliseconds.
"""

from __future__ import annotations

import asyncio
import colorsys
import hashlib
import io
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from app.core.errors import UpstreamBadRequest
from app.providers import demo_edits
from app.providers.base import (
    GenerationRequest,
    ImageResult,
    JobContext,
    Provider,
    ReferenceImage,
)
from app.providers.demo_layers import render_layers

FAIL_MARKER = "[demo:fail]"
SLOW_MARKER = "[demo:slow]"
SLOW_SECONDS = 3.0
DEFAULT_SIZE = (1024, 1024)
SEED_LIMIT = 2**31  # seeds are in [0, 2147483647]
STATE_SEED_KEY = "demo_seed"

# Palette layout: a colour ramp in 0..239, fixed inks above it.
_RAMP = 240
_WHITE, _SHADOW, _RING, _BAND = 240, 241, 242, 243
_LEVEL_SIDES = {"1k": 1024, "2k": 2048, "4k": 2048}  # the demo stops at 2048 per side
_MARKERS_RE = re.compile(r"\[demo:(?:fail|slow)\]", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class DemoScene:
    """Everything one rendered image depends on."""

    prompt: str
    negative_prompt: str
    guidance_scale: float | None
    seed: int
    width: int
    height: int
    # The first reference, already fitted to width x height, and its weight in [0, 1].
    reference: Image.Image | None = None
    strength: float = 0.5


def _digest(scene: DemoScene) -> bytes:
    key = "\x00".join(
        [scene.prompt, scene.negative_prompt, repr(scene.guidance_scale), str(scene.seed), f"{scene.width}x{scene.height}"]
    )
    return hashlib.sha256(key.encode("utf-8")).digest()


def _palette(h: bytes) -> list[int]:
    hue = h[0] / 255
    stops = []
    for k, shift in enumerate((0.0, 0.09 + h[1] / 255 * 0.12, 0.22 + h[2] / 255 * 0.2, 0.5)):
        sat = 0.45 + h[3 + k] / 255 * 0.4
        val = 0.5 + h[7 + k] / 255 * 0.45
        r, g, b = colorsys.hsv_to_rgb((hue + shift) % 1.0, sat, val)
        stops.append((round(r * 255), round(g * 255), round(b * 255)))
    # Let Pillow interpolate the ramp between the stops (a 4x1 image stretched to 240x1).
    strip = Image.new("RGB", (len(stops), 1))
    strip.putdata(stops)
    ramp = strip.resize((_RAMP, 1), Image.Resampling.BILINEAR).tobytes()
    r, g, b = colorsys.hsv_to_rgb(hue, 0.15, 1.0)
    inks = bytes([255, 255, 255, 18, 18, 26, round(r * 255), round(g * 255), round(b * 255), 16, 16, 24])
    return list(ramp + inks) + [0] * (768 - len(ramp) - len(inks))


def _background(h: bytes, width: int, height: int) -> Image.Image:
    # Draw on a tiny canvas and scale it up: soft shapes at the cost of one resize.
    sw = 64
    sh = max(4, min(1024, round(sw * height / width)))
    corners = Image.new("L", (2, 2))
    corners.putdata([h[11], h[12], h[13], h[14]])
    canvas = corners.resize((sw, sh), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(canvas)
    for k in range(5):
        x, y = h[15 + k] / 255 * sw, h[20 + k] / 255 * sh
        r = (0.08 + h[25 + k] / 255 * 0.22) * min(sw, sh) + 2
        draw.ellipse((x - r, y - r, x + r, y + r), fill=h[30 - k])
    canvas = canvas.filter(ImageFilter.GaussianBlur(sw / 20))
    # Squeeze values into the ramp's indexes before scaling up: interpolation stays inside
    # 0..239, and the lookup runs on 4k pixels instead of millions.
    canvas = canvas.point([v * (_RAMP - 1) // 255 for v in range(256)])
    image = canvas.resize((width, height), Image.Resampling.BILINEAR).convert("P")
    image.putpalette(_palette(h))
    return image


def _ascii_snippet(prompt: str, limit: int = 120) -> str:
    # Pillow's bundled font has Latin glyphs only; anything else would print as boxes.
    text = _MARKERS_RE.sub(" ", prompt)
    text = "".join(ch if " " <= ch <= "~" else " " for ch in text)
    return " ".join(text.split())[:limit]


def _fit_text(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, max_width: float) -> str:
    if font.getlength(text) <= max_width:
        return text
    while text and font.getlength(text + "...") > max_width:
        # Cut proportionally rather than one character at a time: few measurements per line.
        keep = max(0, min(len(text) - 1, int(len(text) * max_width / font.getlength(text + "..."))))
        text = text[:keep].rstrip()
    return text + "..." if text else ""


def render_png(scene: DemoScene) -> bytes:
    """Render one demo image; pure CPU work, safe to run in a worker thread."""
    w, h_px = scene.width, scene.height
    h = _digest(scene)
    image = _background(h, w, h_px)
    white: int | tuple[int, int, int] = _WHITE
    shadow: int | tuple[int, int, int] = _SHADOW
    ring: int | tuple[int, int, int] = _RING
    band: int | tuple[int, int, int] = _BAND
    if scene.reference is not None:
        # Image-to-image: the reference shows through, weighted by strength.
        alpha = 0.25 + 0.6 * max(0.0, min(1.0, scene.strength))
        image = Image.blend(image.convert("RGB"), scene.reference, alpha)
        white, shadow, ring, band = (255, 255, 255), (18, 18, 26), (235, 240, 255), (16, 16, 24)

    m = min(w, h_px)
    draw = ImageDraw.Draw(image)
    for k in range(3):
        x, y = h[3 + k] / 255 * w, h[6 + k] / 255 * h_px
        r = (0.06 + h[9 + k] / 255 * 0.2) * m
        draw.ellipse((x - r, y - r, x + r, y + r), outline=ring, width=max(1, m // 220))

    title = ImageFont.load_default(size=max(16, m // 4))
    offset = max(1, m // 110)
    draw.text((w / 2 + offset, h_px * 0.45 + offset), "DEMO", font=title, fill=shadow, anchor="mm")
    draw.text((w / 2, h_px * 0.45), "DEMO", font=title, fill=white, anchor="mm")

    small = ImageFont.load_default(size=max(10, m // 32))
    line = max(12, round(m / 32 * 1.35))
    pad = max(6, m // 40)
    band_top = h_px - 2 * line - pad
    draw.rectangle((0, band_top, w, h_px), fill=band)
    snippet = _ascii_snippet(scene.prompt) or f"prompt #{h.hex()[:8]}"
    # No "image i of n" here: the picture must depend only on what reproduces it.
    info = f"seed {scene.seed}  |  {w}x{h_px}"
    draw.text((pad, band_top + pad / 2), _fit_text(snippet, small, w - 2 * pad), font=small, fill=white)
    draw.text((pad, band_top + pad / 2 + line), info, font=small, fill=ring)

    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def fit_reference(reference: ReferenceImage, width: int, height: int) -> Image.Image:
    """Decode a reference and crop-scale it to cover ``width`` x ``height``."""
    with Image.open(io.BytesIO(reference.data)) as src:
        # JPEG can decode straight at a reduced scale, which is most of the cost for big inputs.
        src.draft("RGB", (width, height))
        rgb = ImageOps.exif_transpose(src).convert("RGB")
    return ImageOps.fit(rgb, (width, height), Image.Resampling.BILINEAR)


def request_dimensions(request: GenerationRequest) -> tuple[int, int]:
    if request.width and request.height:
        return request.width, request.height
    size = (request.size or "").strip().lower()
    if "x" in size:
        w, _, h = size.partition("x")
        if w.isdigit() and h.isdigit():
            return int(w), int(h)
    if size in _LEVEL_SIDES:
        side = _LEVEL_SIDES[size]
        return side, side
    if size == "adaptive" and request.references:
        # Follow the input's aspect ratio at about one megapixel, as the upstream does.
        ref = request.references[0]
        scale = (DEFAULT_SIZE[0] * DEFAULT_SIZE[1] / (ref.width * ref.height)) ** 0.5
        return max(64, round(ref.width * scale / 8) * 8), max(64, round(ref.height * scale / 8) * 8)
    return DEFAULT_SIZE


class DemoProvider(Provider):
    name = "demo"

    def __init__(
        self,
        *,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        slow_seconds: float = SLOW_SECONDS,
    ) -> None:
        self._rng = rng or random.SystemRandom()
        self._sleep = sleep
        self._slow_seconds = slow_seconds

    async def generate(self, request: GenerationRequest, ctx: JobContext) -> None:
        prompt_lower = request.prompt.lower()
        if FAIL_MARKER in prompt_lower:
            raise UpstreamBadRequest(
                "Demo failure requested by the prompt marker [demo:fail]",
                message_zh="提示词中的 [demo:fail] 标记要求演示模型失败",
                upstream_code="DemoFailure",
                status=400,
            )
        if SLOW_MARKER in prompt_lower:
            await self._sleep(self._slow_seconds)

        if request.operation is not None:
            await self._edit(request, ctx)
            return

        width, height = request_dimensions(request)
        base_seed = await self._base_seed(request, ctx)
        count = request.expected_images
        if request.is_group:
            await ctx.set_expected(count)

        reference: Image.Image | None = None
        for index in range(count):
            ctx.check_cancelled()
            if ctx.is_done(index):
                continue
            if request.references and reference is None:
                reference = await asyncio.to_thread(fit_reference, request.references[0], width, height)
            seed = (base_seed + index) % SEED_LIMIT
            scene = DemoScene(
                prompt=request.prompt,
                negative_prompt=request.negative_prompt or "",
                guidance_scale=request.guidance_scale,
                seed=seed,
                width=width,
                height=height,
                reference=reference,
                strength=0.5 if request.strength is None else request.strength,
            )
            data = await asyncio.to_thread(render_png, scene)
            layers = (
                tuple(await asyncio.to_thread(render_layers, width, height, seed)) if request.layer_decomposition else ()
            )
            await ctx.deliver(ImageResult(index=index, data=data, size=f"{width}x{height}", seed=seed, layers=layers))

    async def _edit(self, request: GenerationRequest, ctx: JobContext) -> None:
        if ctx.is_done(0):
            return
        source, mask = request.source, request.mask
        if source is None:
            raise UpstreamBadRequest(
                "The edit has no source image.", message_zh="编辑任务缺少原图。", upstream_code="DemoNoSource", status=400
            )
        seed = await self._base_seed(request, ctx)
        ctx.check_cancelled()
        if request.operation in ("inpaint", "erase") and mask is None:
            raise UpstreamBadRequest(
                "The edit has no mask.", message_zh="编辑任务缺少蒙版。", upstream_code="DemoNoMask", status=400
            )
        if request.operation == "inpaint" and mask is not None:
            scene = await asyncio.to_thread(render_png, self._scene(request.prompt, seed, source.width, source.height))
            data = await asyncio.to_thread(demo_edits.inpaint, source.data, mask.data, scene)
        elif request.operation == "erase" and mask is not None:
            data = await asyncio.to_thread(demo_edits.erase, source.data, mask.data)
        elif request.operation == "outpaint":
            edges = (request.expand_top, request.expand_bottom, request.expand_left, request.expand_right)
            canvas_w, canvas_h, _, _ = demo_edits.outpaint_canvas(source.width, source.height, edges)
            scene = await asyncio.to_thread(render_png, self._scene(request.prompt or "outpaint", seed, canvas_w, canvas_h))
            data = await asyncio.to_thread(demo_edits.outpaint, source.data, edges, scene)
        else:
            data = await asyncio.to_thread(demo_edits.upscale, source.data, request.target_long_side or 4096)
        await ctx.deliver(ImageResult(index=0, data=data, seed=None if request.operation == "upscale" else seed))

    @staticmethod
    def _scene(prompt: str, seed: int, width: int, height: int) -> DemoScene:
        # Rendered at most 2048 per side (the demo's own limit) and scaled to the canvas.
        scale = min(1.0, 2048 / max(width, height))
        return DemoScene(
            prompt=prompt,
            negative_prompt="",
            guidance_scale=None,
            seed=seed,
            width=max(16, round(width * scale)),
            height=max(16, round(height * scale)),
        )

    async def _base_seed(self, request: GenerationRequest, ctx: JobContext) -> int:
        if request.seed is not None and request.seed >= 0:
            return request.seed
        saved = ctx.state.get(STATE_SEED_KEY)
        if isinstance(saved, int):
            return saved
        seed = self._rng.randrange(SEED_LIMIT)
        # Persist before rendering: a job that runs again must draw the same images.
        await ctx.save_state(**{STATE_SEED_KEY: seed})
        return seed

