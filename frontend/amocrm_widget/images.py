"""Draws the widget's logos as PNG files, standard library only.

amoCRM wants fixed logo sizes (shared/specs/amocrm.md §4.1). Pillow is not a dependency of the
project, so the shapes are rasterised here from signed distance functions (one sample per pixel,
anti-aliased by the distance) and written with zlib + struct. The output is deterministic, so the
committed PNGs can be regenerated at any time:

    .venv/bin/python frontend/amocrm_widget/images.py
"""

from __future__ import annotations

import itertools
import math
import struct
import sys
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

# name -> (width, height); the sizes amoCRM requires for a widget shown in cards (spec §4.1).
LOGO_SIZES: dict[str, tuple[int, int]] = {
    "logo_main.png": (400, 272),
    "logo.png": (130, 100),
    "logo_small.png": (108, 108),
    "logo_medium.png": (240, 84),
    "logo_min.png": (84, 84),
}

BRAND = (0x12, 0x8A, 0x6B)  # deep green: "paid"
BRAND_DARK = (0x0C, 0x6B, 0x53)
WHITE = (0xFF, 0xFF, 0xFF)
INK = (0x23, 0x2F, 0x3C)

Color = tuple[int, int, int]
Sdf = Callable[[float, float], float]


# ---------------------------------------------------------------------------------------- canvas


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        # premultiplied RGBA in 0..1, row-major
        self.px = [[0.0, 0.0, 0.0, 0.0] for _ in range(width * height)]

    def paint(
        self,
        sdf: Sdf,
        bbox: tuple[float, float, float, float],
        color: Color,
        clip: Callable[[float, float], bool] | None = None,
    ) -> None:
        """Composites `color` over the canvas wherever `sdf` < 0 (coverage from the distance)."""
        x0, y0, x1, y1 = bbox
        r, g, b = (c / 255 for c in color)
        for y in range(max(0, int(y0) - 1), min(self.height, int(y1) + 2)):
            cy = y + 0.5
            row = y * self.width
            for x in range(max(0, int(x0) - 1), min(self.width, int(x1) + 2)):
                cx = x + 0.5
                if clip is not None and not clip(cx, cy):
                    continue
                a = 0.5 - sdf(cx, cy)
                if a <= 0:
                    continue
                a = min(a, 1.0)
                p = self.px[row + x]
                k = 1 - a
                p[0] = r * a + p[0] * k
                p[1] = g * a + p[1] * k
                p[2] = b * a + p[2] * k
                p[3] = a + p[3] * k

    def strokes(
        self, segments: Iterable[tuple[float, float, float, float]], width: float, color: Color
    ) -> None:
        """Paints round-capped line segments as one layer (so joints do not darken)."""
        half = width / 2
        mask: dict[int, float] = {}
        for ax, ay, bx, by in segments:
            dx, dy = bx - ax, by - ay
            length2 = dx * dx + dy * dy or 1e-9
            for y in range(
                max(0, int(min(ay, by) - half) - 1), min(self.height, int(max(ay, by) + half) + 2)
            ):
                for x in range(
                    max(0, int(min(ax, bx) - half) - 1),
                    min(self.width, int(max(ax, bx) + half) + 2),
                ):
                    px, py = x + 0.5 - ax, y + 0.5 - ay
                    t = max(0.0, min(1.0, (px * dx + py * dy) / length2))
                    d = math.hypot(px - t * dx, py - t * dy) - half
                    a = 0.5 - d
                    if a > 0:
                        i = y * self.width + x
                        mask[i] = max(mask.get(i, 0.0), min(a, 1.0))
        r, g, b = (c / 255 for c in color)
        for i, a in mask.items():
            p = self.px[i]
            k = 1 - a
            p[0] = r * a + p[0] * k
            p[1] = g * a + p[1] * k
            p[2] = b * a + p[2] * k
            p[3] = a + p[3] * k

    def png(self) -> bytes:
        raw = bytearray()
        for y in range(self.height):
            raw.append(0)  # filter: none
            for x in range(self.width):
                r, g, b, a = self.px[y * self.width + x]
                if a > 0:
                    r, g, b = r / a, g / a, b / a
                raw += bytes(round(max(0.0, min(1.0, v)) * 255) for v in (r, g, b, a))
        return encode_png(self.width, self.height, bytes(raw))


def encode_png(width: int, height: int, rgba_rows: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rgba_rows, 9))
        + chunk(b"IEND", b"")
    )


# ---------------------------------------------------------------------------------------- shapes


def rounded_rect(cx: float, cy: float, hw: float, hh: float, radius: float) -> Sdf:
    def sdf(x: float, y: float) -> float:
        qx = abs(x - cx) - hw + radius
        qy = abs(y - cy) - hh + radius
        outside = math.hypot(max(qx, 0.0), max(qy, 0.0))
        return outside + min(max(qx, qy), 0.0) - radius

    return sdf


def chain_link(
    cx: float, cy: float, length: float, girth: float, thickness: float, angle: float
) -> Sdf:
    """A stadium-shaped ring (one link of a chain) rotated by `angle` radians."""
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    half_straight = (length - girth) / 2
    radius = girth / 2

    def sdf(x: float, y: float) -> float:
        dx, dy = x - cx, y - cy
        u = dx * cos_a + dy * sin_a
        v = -dx * sin_a + dy * cos_a
        u = max(abs(u) - half_straight, 0.0)
        return abs(math.hypot(u, v) - radius) - thickness / 2

    return sdf


def draw_mark(canvas: Canvas, cx: float, cy: float, size: float, bg: Color) -> None:
    """Two interlocked chain links on the diagonal: the "payment link" mark."""
    angle = -math.pi / 4
    length, girth, thickness = 0.62 * size, 0.30 * size, 0.085 * size
    shift = 0.19 * size
    ax, ay = cx - shift * math.cos(angle), cy - shift * math.sin(angle)
    bx, by = cx + shift * math.cos(angle), cy + shift * math.sin(angle)
    link_a = chain_link(ax, ay, length, girth, thickness, angle)
    link_b = chain_link(bx, by, length, girth, thickness, angle)
    halo_a = chain_link(ax, ay, length, girth, thickness * 2.3, angle)
    halo_b = chain_link(bx, by, length, girth, thickness * 2.3, angle)
    box = (cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2)

    def above_axis(x: float, y: float) -> bool:  # one side of the chain's axis
        return (x - cx) * math.sin(angle) - (y - cy) * math.cos(angle) > 0

    def below_axis(x: float, y: float) -> bool:
        return not above_axis(x, y)

    # A passes over B at one crossing and under it at the other, like a real chain.
    canvas.paint(link_b, box, WHITE)
    canvas.paint(halo_a, box, bg, clip=above_axis)
    canvas.paint(link_a, box, WHITE)
    canvas.paint(halo_b, box, bg, clip=below_axis)
    canvas.paint(link_b, box, WHITE, clip=below_axis)


# ------------------------------------------------------------------------------------ stroke font

Polyline = list[tuple[float, float]]


def _arc(
    cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, steps: int = 14
) -> Polyline:
    """Points on an ellipse; angles in degrees, 0 = right, 90 = up."""
    out = []
    for i in range(steps + 1):
        a = math.radians(a0 + (a1 - a0) * i / steps)
        out.append((cx + rx * math.cos(a), cy - ry * math.sin(a)))
    return out


# Upper-case glyphs on a cap-height-1 grid (y grows downwards): (advance width, polylines).
GLYPHS: dict[str, tuple[float, list[Polyline]]] = {
    "А": (0.66, [[(0, 1), (0.33, 0), (0.66, 1)], [(0.12, 0.66), (0.54, 0.66)]]),
    "И": (0.62, [[(0, 0), (0, 1), (0.62, 0), (0.62, 1)]]),
    "К": (0.58, [[(0, 0), (0, 1)], [(0.56, 0), (0.02, 0.56)], [(0.2, 0.38), (0.6, 1)]]),
    "Л": (0.62, [[(0, 1), (0.2, 0), (0.62, 0), (0.62, 1)]]),
    "Н": (0.62, [[(0, 0), (0, 1)], [(0.62, 0), (0.62, 1)], [(0, 0.5), (0.62, 0.5)]]),
    "О": (0.74, [_arc(0.37, 0.5, 0.37, 0.5, 0, 360, 28)]),
    "П": (0.62, [[(0, 1), (0, 0), (0.62, 0), (0.62, 1)]]),
    "С": (0.64, [_arc(0.37, 0.5, 0.37, 0.5, 45, 315, 22)]),
    "Т": (0.62, [[(0, 0), (0.62, 0)], [(0.31, 0), (0.31, 1)]]),
    "У": (0.62, [[(0, 0), (0.32, 0.62)], [(0.62, 0), (0.14, 1)]]),
    "Ы": (
        0.8,
        [
            [(0, 0), (0, 1)],
            [
                (0, 0.44),
                (0.2, 0.44),
                *_arc(0.2, 0.72, 0.26, 0.28, 90, -90, 12)[1:-1],
                (0.2, 1),
                (0, 1),
            ],
            [(0.8, 0), (0.8, 1)],
        ],
    ),
    " ": (0.3, []),
}
TRACKING = 0.24


def text_width(text: str, cap: float) -> float:
    widths = [GLYPHS[ch][0] for ch in text]
    return (sum(widths) + TRACKING * (len(widths) - 1)) * cap


def draw_text(
    canvas: Canvas, text: str, x: float, y: float, cap: float, stroke: float, color: Color
) -> None:
    """Draws `text` with its top-left corner at (x, y)."""
    segments = []
    pen = x
    for ch in text:
        advance, lines = GLYPHS[ch]
        for line in lines:
            for (ax, ay), (bx, by) in itertools.pairwise(line):
                segments.append((pen + ax * cap, y + ay * cap, pen + bx * cap, y + by * cap))
        pen += (advance + TRACKING) * cap
    canvas.strokes(segments, stroke, color)


# ----------------------------------------------------------------------------------------- logos


def tile(canvas: Canvas, x: float, y: float, size: float) -> None:
    """The brand tile: a rounded square in the brand colour with the mark."""
    half = size / 2
    canvas.paint(
        rounded_rect(x + half, y + half, half, half, size * 0.22), (x, y, x + size, y + size), BRAND
    )
    draw_mark(canvas, x + half, y + half, size * 0.78, BRAND)


def draw_logo(name: str) -> bytes:
    width, height = LOGO_SIZES[name]
    canvas = Canvas(width, height)
    if name == "logo_main.png":
        canvas.paint(
            rounded_rect(width / 2, height / 2, width / 2, height / 2, 0),
            (0, 0, width, height),
            BRAND,
        )
        canvas.paint(
            rounded_rect(width / 2, height, width / 2, 62, 0),
            (0, height - 62, width, height),
            BRAND_DARK,
        )
        draw_mark(canvas, width / 2, 102, 150, BRAND)
        label = "ССЫЛКИ НА ОПЛАТУ"
        cap = 19.0
        draw_text(canvas, label, (width - text_width(label, cap)) / 2, 231, cap, 3.2, WHITE)
    elif name == "logo.png":
        canvas.paint(
            rounded_rect(width / 2, height / 2, width / 2, height / 2, 10),
            (0, 0, width, height),
            BRAND,
        )
        draw_mark(canvas, width / 2, height / 2, 84, BRAND)
    elif name == "logo_medium.png":
        tile(canvas, 8, 10, 64)
        draw_text(canvas, "ССЫЛКИ", 86, 18, 20, 3.3, INK)
        draw_text(canvas, "НА ОПЛАТУ", 86, 47, 20, 3.3, BRAND_DARK)
    else:  # logo_small, logo_min: the tile alone
        tile(canvas, 0, 0, width)
    return canvas.png()


def write_logos(target: Path) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name in LOGO_SIZES:
        path = target / name
        path.write_bytes(draw_logo(name))
        written.append(path)
    return written


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "images"
    for p in write_logos(out):
        print(p)
