#!/usr/bin/env python3
"""Draw the kernelspec logos (kernelspec/logo-32x32.png, logo-64x64.png).

The drawing: a tiny three-layer network (3-4-1 nodes joined by lines) in
white and amber on a rounded navy square, supersampled 4x for smooth edges.
Standard library only, so that it runs anywhere python3 does.
"""
import math
import struct
import sys
import zlib
from pathlib import Path

NAVY = (22, 44, 84)
WHITE = (245, 247, 250)
AMBER = (255, 183, 3)


def layers():
    cols = [0.22, 0.5, 0.78]
    counts = [3, 4, 1]
    nodes = []
    for x, n in zip(cols, counts):
        ys = [0.5] if n == 1 else [0.2 + 0.6 * i / (n - 1) for i in range(n)]
        nodes.append([(x, y) for y in ys])
    return nodes


def seg_dist(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - ax - t * dx, py - ay - t * dy)


def colour_at(x, y):
    """RGBA of the drawing at unit coordinates (x, y)."""
    r = 0.18  # corner radius of the rounded square
    cx, cy = min(max(x, r), 1 - r), min(max(y, r), 1 - r)
    if math.hypot(x - cx, y - cy) > r:
        return (0, 0, 0, 0)
    nodes = layers()
    for li, layer in enumerate(nodes):
        for (nx, ny) in layer:
            if math.hypot(x - nx, y - ny) < (0.085 if li == 2 else 0.06):
                return AMBER + (255,) if li == 2 else WHITE + (255,)
    for a, b in zip(nodes, nodes[1:]):
        for (ax, ay) in a:
            for (bx, by) in b:
                if seg_dist(x, y, ax, ay, bx, by) < 0.012:
                    return (150, 170, 205, 255)
    return NAVY + (255,)


def render(size, ss=4):
    rows = []
    for j in range(size):
        row = bytearray([0])
        for i in range(size):
            acc = [0, 0, 0, 0]
            for sj in range(ss):
                for si in range(ss):
                    c = colour_at((i + (si + 0.5) / ss) / size, (j + (sj + 0.5) / ss) / size)
                    a = c[3]
                    for k in range(3):
                        acc[k] += c[k] * a
                    acc[3] += a
            a = acc[3]
            rgb = [int(round(acc[k] / a)) if a else 0 for k in range(3)]
            row += bytes(rgb + [int(round(a / (ss * ss)))])
        rows.append(bytes(row))
    return b"".join(rows)


def png(size):
    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data +
                struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
            chunk(b"IDAT", zlib.compress(render(size), 9)) + chunk(b"IEND", b""))


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent.parent / "kernelspec")
    for size in (32, 64):
        (out / f"logo-{size}x{size}.png").write_bytes(png(size))


if __name__ == "__main__":
    main()
