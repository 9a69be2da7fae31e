"""The report as a real browser renders it: headless Chromium, a screenshot and the live DOM.

The screenshot is decoded with a tiny PNG reader (zlib + row filters) so the test can check
that the matrix cells and the timeline really are painted, in the right place, without an
imaging library.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from harness.report.writer import outputs_in, write_run

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER = next((path for name in BROWSERS if (path := shutil.which(name))), None)
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="chromium is not installed (apt-get install -y chromium); CI installs it")

WIDTH, HEIGHT = 1400, 1800
COLOURS = {  # flat fills from the page's CSS and the SVG palette
    "pass cell": (0xBB, 0xF7, 0xD0),
    "fail cell": (0xFE, 0xCA, 0xCA),
    "hazard cell": (0xFD, 0xE6, 0x8A),
    "xfail cell": (0xDD, 0xD6, 0xFE),
    "link up band": (0x4A, 0xDE, 0x80),
    "link down band": (248, 113, 102),  # #f87171 under the fault window's 12 % orange shade
    "fault bar": (250, 136, 57),  # #f97316 at 85 % on white
    "master band": (0x93, 0xC5, 0xFD),
}


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    assert BROWSER
    command = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--hide-scrollbars", *args]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail(f"chromium did not finish within 90 s: {' '.join(command)}")


def decode_png(data: bytes) -> tuple[int, int, list[list[tuple[int, int, int]]]]:
    """8-bit RGB/RGBA PNG -> (width, height, rows of RGB). Enough for Chromium's screenshots."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6), f"unsupported PNG: depth {depth} colour type {colour}"
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[list[tuple[int, int, int]]] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            upper_left = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - upper_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upper_left)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else upper_left
                line[i] = (line[i] + pred) & 0xFF
        rows.append([tuple(line[x:x + 3]) for x in range(0, stride, channels)])  # type: ignore[misc]
        previous = line
    return width, height, rows


def close(a: tuple[int, int, int], b: tuple[int, int, int], tolerance: int = 3) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


@pytest.fixture
def report(tmp_path: Path, synthetic: Any) -> Path:
    out = write_run(synthetic(), outputs_in(tmp_path / "reports"))
    assert not out.errors
    return out.html


def test_screenshot_shows_matrix_and_timeline(report: Path, tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    proc = chromium(f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}", report.as_uri(),
                    profile=tmp_path / "profile")
    assert png.exists(), f"no screenshot (exit {proc.returncode}): {proc.stderr[-2000:]}"
    print(f"screenshot: {png}")
    width, height, rows = decode_png(png.read_bytes())
    assert (width, height) == (WIDTH, HEIGHT)
    counts: Counter[tuple[int, int, int]] = Counter(px for row in rows[::2] for px in row[::2])
    assert len(counts) > 50, "the page looks blank"
    first_row: dict[str, int] = {}
    for name, colour in COLOURS.items():
        near = {c for c in counts if close(c, colour)}  # blending may round by one either way
        assert sum(counts[c] for c in near) > 100, f"{name} {colour} is not visible in {png}"
        first_row[name] = next(y for y, row in enumerate(rows) if near.intersection(row))
    # the matrix is above the first failing test's timeline
    assert first_row["fail cell"] < first_row["fault bar"] < first_row["link down band"]
    assert max(first_row["pass cell"], first_row["fail cell"]) < 700


def test_live_dom_has_matrix_and_timelines(report: Path, tmp_path: Path) -> None:
    proc = chromium("--dump-dom", report.as_uri() + "#t-nope", profile=tmp_path / "profile")
    dom = proc.stdout
    assert '<table class="matrix">' in dom, proc.stderr[-2000:]
    assert dom.count('<td class="cell') == 12
    assert dom.count("<svg") >= 4 and 'class="fault"' in dom
    assert '<details class="test" id="t-suites-test-incremental-sync-py' in dom


def test_matrix_link_opens_a_closed_test(report: Path, tmp_path: Path, synthetic: Any) -> None:
    """With JS the fragment opens the linked <details>; without it the failures are open anyway."""
    passing = next(t for t in synthetic()["tests"] if t["outcome"] == "pass")
    dom = chromium("--dump-dom", f"{report.as_uri()}#{passing['id']}", profile=tmp_path / "profile").stdout
    tag = re.search(rf'<details[^>]*id="{re.escape(passing["id"])}"[^>]*>', dom)
    assert tag and "open" in tag.group(0), tag
