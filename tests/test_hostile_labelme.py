"""Hostile LabelMe folders (issue 14, item 12): what a careless user or an attacker can put
beside the frames. Each is one error line naming the file, exit 2, nothing on disk changed;
never a traceback, a hang or all the memory.

The catalogue is one table: to add a case, write a function that breaks the folder and
returns the file it broke, and add one row (id, that function, the problem the error line
must name; None for input that must be accepted).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import resource
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from labelme_sam2.cli.main import main
from labelme_sam2.formats.labelme_json import is_tool_shape
from tests.conftest import folder_bytes, shape
from tests.scripted_tracker import use_scripted_model

Break = Callable[[Path], Path]  # breaks the folder; returns the file the error must name


# --- how each case breaks the folder ---------------------------------------------------


def png(width: int, height: int) -> bytes:
    """A real, valid PNG of width x height black 1-bit pixels: a few kB on disk however large
    it claims to be, which is what makes a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    row = b"\0" * (1 + (width + 7) // 8)  # filter byte, then the row's bits
    squeeze = zlib.compressobj(9)
    pixels = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def with_literal(where: Callable[[dict[str, Any]], None], literal: str) -> Break:
    """00000.json with `literal` written verbatim (JSON that json.dumps cannot write) where
    `where` puts a placeholder in the document."""

    def make(folder: Path) -> Path:
        path = folder / "00000.json"
        document = json.loads(path.read_text(encoding="utf-8"))
        where(document)
        text = json.dumps(document, indent=2).replace('"@LITERAL@"', literal)
        path.write_text(text, encoding="utf-8")
        return path

    return make


def first_x(document: dict[str, Any]) -> None:
    document["shapes"][0]["points"][0][0] = "@LITERAL@"  # the rectangle 'boy'


def second_y(document: dict[str, Any]) -> None:
    document["shapes"][1]["points"][0][1] = "@LITERAL@"  # the rectangle 'girl'


def extra_key(document: dict[str, Any]) -> None:
    document["other_tool"] = {"score": "@LITERAL@"}


def nested(depth: int) -> Break:
    """00000.json holding, beside its shapes, a list nested `depth` deep."""
    return with_literal(extra_key, "[" * depth + "]" * depth)


def mask_shape_claiming(width: int, height: int) -> Break:
    """A mask shape over a 100x100 box whose PNG says it is width x height."""

    def make(folder: Path) -> Path:
        path = folder / "00005.json"
        data = base64.b64encode(png(width, height)).decode("ascii")
        mask = shape("cat", "mask", [[10, 10], [109, 109]], mask=data)
        path.write_text(json.dumps({"shapes": [mask]}), encoding="utf-8")
        return path

    return make


def frame_claiming(width: int, height: int) -> Break:
    def make(folder: Path) -> Path:
        path = folder / "00004.jpg"  # Pillow goes by the content, not the name
        path.write_bytes(png(width, height))
        return path

    return make


def link_to_dev_zero(folder: Path) -> Path:
    path = folder / "00003.json"
    os.symlink("/dev/zero", path)
    return path


def fifo(folder: Path) -> Path:
    path = folder / "00003.json"
    os.mkfifo(path)  # no writer: opening it to read waits forever
    return path


def over_64_mib(folder: Path) -> Path:
    path = folder / "00003.json"
    path.write_bytes(b'{"shapes": []}' + b" " * (64 << 20))
    return path


def byte_order_mark(folder: Path) -> Path:
    """What Notepad and other Windows editors write: the UTF-8 BOM, then the text."""
    path = folder / "00000.json"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    return path


HOSTILE: list[tuple[str, Break, str | None]] = [
    # id, how to make it, the problem the one error line names (None: accepted)
    (
        "coordinate-1e400",
        with_literal(first_x, "1e400"),
        "shape 1 (rectangle 'boy'): point 1: x is inf, not a finite number",
    ),
    (
        "coordinate-minus-infinity",
        with_literal(first_x, "-Infinity"),
        "shape 1 (rectangle 'boy'): point 1: x is -inf, not a finite number",
    ),
    (
        "coordinate-nan",
        with_literal(second_y, "NaN"),
        "shape 2 (rectangle 'girl'): point 1: y is nan, not a finite number",
    ),
    (
        "coordinate-400-digit-integer",
        with_literal(first_x, str(10**400)),
        "shape 1 (rectangle 'boy'): point 1: x is an integer of 401 digits, too large",
    ),
    (
        "5000-digit-integer",
        with_literal(extra_key, "9" * 5000),
        "an integer of 5000 digits at line 75 column 14; numbers may have at most 4300",
    ),
    ("nested-100000-deep", nested(100_000), "JSON nested deeper than 100 levels"),
    # How deep json gets before RecursionError depends on the caller's stack (about 980 levels
    # from the command line, fewer in a server thread or here): the cap is ours, and fixed.
    ("nested-200-deep", nested(200), "JSON nested deeper than 100 levels"),
    (
        "mask-png-claims-20000x20000",
        mask_shape_claiming(20_000, 20_000),
        "shape 1 (mask 'cat'): mask is 20000x20000 but its points span 100x100 pixels",
    ),
    (
        "frame-png-bomb-20000x20000",
        frame_claiming(20_000, 20_000),
        "frame has 400,000,000 pixels, over the limit of 67,108,864 (8192x8192)",
    ),
    (
        "frame-10000x10000",  # Pillow warns as it opens it
        frame_claiming(10_000, 10_000),
        "frame has 100,000,000 pixels, over the limit of 67,108,864 (8192x8192) for a frame",
    ),
    (
        "frame-9000x9000",  # Pillow would decode it
        frame_claiming(9_000, 9_000),
        "frame is 9000x9000, 81,000,000 pixels, over the limit of 67,108,864 (8192x8192)",
    ),
    ("link-to-dev-zero", link_to_dev_zero, "not a regular file (a character device)"),
    ("fifo", fifo, "not a regular file (a FIFO)"),
    ("over-64-MiB", over_64_mib, "67,108,878 bytes, over the 64 MiB limit for a LabelMe file"),
    ("utf-8-byte-order-mark", byte_order_mark, None),
]  # fmt: skip


@contextlib.contextmanager
def memory_capped(extra: int = 4 << 30) -> Iterator[None]:
    """At most `extra` more bytes of address space while the command runs: a regression that
    reads /dev/zero to its end then fails with MemoryError instead of taking the machine (and
    everything else running on it) down. The timeout below catches the hangs."""
    with open("/proc/self/statm") as statm:
        in_use = int(statm.read().split()[0]) * resource.getpagesize()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    capped = in_use + extra if hard == resource.RLIM_INFINITY else min(hard, in_use + extra)
    resource.setrlimit(resource.RLIMIT_AS, (capped, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("make", "problem"),
    [(make, problem) for _, make, problem in HOSTILE],
    ids=[case_id for case_id, _, _ in HOSTILE],
)
def test_hostile_labelme_folder(
    bedroom: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    make: Break,
    problem: str | None,
) -> None:
    use_scripted_model(monkeypatch)  # input that gets past the checks tracks, fast
    path = make(bedroom)
    before = folder_bytes(bedroom)
    with memory_capped():
        code = main(["track", str(bedroom), "--save-masks"])
    err = capsys.readouterr().err
    if problem is None:
        assert code == 0 and "error" not in err, err
        assert_tracked(path)
        return
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # no traceback, no warning beside it
    assert lines[0].startswith(f"labelme-sam2: error: {path}: ") and problem in lines[0], err
    assert folder_bytes(bedroom) == before


def assert_tracked(path: Path) -> None:
    """The file holds the user's prompts and our masks of both objects."""
    shapes = json.loads(path.read_text(encoding="utf-8-sig"))["shapes"]
    users = [s["label"] for s in shapes if not is_tool_shape(s)]
    assert users == ["boy", "girl", "girl", "girl_neg"]
    assert {s["label"] for s in shapes if is_tool_shape(s)} == {"boy", "girl"}


@pytest.mark.timeout(20)
def test_a_hostile_manifest_beside_the_frames_is_one_warning(
    bedroom: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """extract's manifest.json is read as hostilely as a LabelMe file: too deep to parse is a
    warning that the frame rate is unknown, not a traceback."""
    use_scripted_model(monkeypatch)
    (bedroom / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    assert main(["track", str(bedroom), "--video", "overlay"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "manifest.json" in line]
    assert len(warnings) == 1 and "JSON nested deeper than 100 levels" in warnings[0]
