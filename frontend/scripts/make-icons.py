"""Draw the PWA icons in public/icons from the favicon's geometry (Pillow; run from the repo root
with the project's venv: .venv/bin/python frontend/scripts/make-icons.py)."""

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "public" / "icons"
START, END = (0xFF, 0x6A, 0x3D), (0xC0, 0x14, 0x3C)  # favicon.svg's gradient


def icon(size: int, maskable: bool = False, background: tuple[int, int, int, int] | None = None) -> Image.Image:
    scale = 4  # drawn larger, then reduced: smooth edges without an SVG renderer
    side = size * scale
    img = Image.new("RGBA", (side, side), background or (0, 0, 0, 0))
    # a maskable icon keeps its drawing inside the 80% safe zone
    inset = 0.16 if maskable else 0.02
    unit = side * (1 - 2 * inset) / 64
    offset = side * inset

    def p(x: float, y: float) -> tuple[float, float]:
        return offset + x * unit, offset + y * unit

    gradient = Image.new("RGBA", (side, side))
    draw = ImageDraw.Draw(gradient)
    for i in range(2 * side):
        t = i / (2 * side)
        colour = tuple(round(START[k] + (END[k] - START[k]) * t) for k in range(3))
        draw.line([(i, 0), (0, i)], fill=(*colour, 255), width=2)
    mask = Image.new("L", (side, side), 0)
    ImageDraw.Draw(mask).polygon([p(32, 6), p(58, 54), p(6, 54)], fill=255)
    img.paste(gradient, (0, 0), mask)
    inner = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    ImageDraw.Draw(inner).polygon([p(32, 22), p(44, 44), p(20, 44)], fill=(255, 255, 255, 217))
    return Image.alpha_composite(img, inner).resize((size, size), Image.LANCZOS)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    white = (255, 255, 255, 255)
    icon(192).save(OUT / "icon-192.png", optimize=True)
    icon(512).save(OUT / "icon-512.png", optimize=True)
    icon(512, maskable=True, background=white).save(OUT / "icon-maskable-512.png", optimize=True)
    icon(180, maskable=True, background=white).convert("RGB").save(OUT / "apple-touch-icon.png", optimize=True)
