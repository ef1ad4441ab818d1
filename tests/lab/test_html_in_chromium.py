"""The lab's HTML page as a person sees it: rendered by headless Chromium, the grid is there.

Chromium (Debian's package, installed by scripts/setup-system.sh) takes a screenshot of the
page; the PNG is decoded here and the grid's colors are counted. A legend swatch is about
12x12 pixels, a grid cell about 24x24, so a color that covers well over a swatch's area is
drawn by the grid itself.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

from test_report import _report

from vfpnet.lab.html_page import COLORS, report_html

CHROMIUM = shutil.which("chromium")


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the raw rows (RGB or RGBA, 8-bit, not interlaced) of a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and color in (2, 6)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, channels, rows


def test_chromium_renders_the_grid_with_each_outcome_color(tmp_path: Path) -> None:
    assert CHROMIUM, "chromium is not installed (scripts/setup-system.sh installs it)"
    page = tmp_path / "lab.html"
    page.write_text(report_html(_report(observed_xz=False)))
    shot = tmp_path / "lab.png"
    subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
         "--window-size=900,600", page.as_uri()],
        capture_output=True, timeout=120, check=False,
    )
    assert shot.exists(), "chromium wrote no screenshot"
    width, channels, rows = _png_pixels(shot.read_bytes())
    counts = dict.fromkeys(COLORS, 0)
    wanted = {bytes.fromhex(color[1:]): name for name, color in COLORS.items()}
    for row in rows:
        for x in range(0, width * channels, channels):
            name = wanted.get(row[x:x + 3])
            if name:
                counts[name] += 1
    assert all(n > 400 for n in counts.values()), counts
    assert counts["allowed"] > counts["denied-nsg"]  # two allowed cells, one NSG-denied
