"""Mask PNGs are encoded for speed (issue 15), not for the smallest file: what every reader
decodes must stay what it was. White-on-black 8-bit greyscale (0/255) for `png`, 8-bit
palette PNGs with DAVIS's palette for `davis`, 8-bit greyscale 0/1 crops inside LabelMe mask
shapes; the mask store reads files of any zlib level."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from labelme_sam2.core.prompts import ObjectKey
from labelme_sam2.core.tracking import FrameMasks
from labelme_sam2.formats.images import grey_mask_png_bytes, image_bytes
from labelme_sam2.formats.mask_codec import (
    bounding_box,
    decode_mask_crop,
    encode_mask_crop,
    pack_masks,
    unpack_masks,
)
from labelme_sam2.render.colors import davis_palette
from labelme_sam2.reruns import MaskStore
from labelme_sam2.writers.indexed_pngs import index_image, indexed_png_bytes
from labelme_sam2.writers.mask_pngs import png_bytes


def masks(height: int = 72, width: int = 128, *, seed: int = 0) -> list[np.ndarray]:
    """Empty, full, an ellipse touching the left edge, noise, and a single pixel."""
    rng = np.random.default_rng(seed)
    ellipse = np.zeros((height, width), dtype=np.uint8)
    cv2.ellipse(ellipse, (5, height // 2), (30, 20), 0, 0, 360, 1, thickness=-1)
    pixel = np.zeros((height, width), dtype=bool)
    pixel[height - 1, width - 1] = True
    return [
        np.zeros((height, width), dtype=bool),
        np.ones((height, width), dtype=bool),
        ellipse.astype(bool),
        rng.random((height, width)) < 0.3,
        pixel,
    ]


def png_header(data: bytes) -> tuple[int, int, int, int]:
    """(width, height, bit depth, colour type) from the IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    return width, height, depth, colour


def test_mask_pngs_are_white_on_black_8_bit_grey_for_every_reader():
    for mask in masks():
        data = png_bytes(mask)
        white = mask.astype(np.uint8) * 255
        assert png_header(data) == (128, 72, 8, 0)  # 8-bit greyscale
        with Image.open(io.BytesIO(data)) as image:
            assert image.mode == "L"
            pixels = np.array(image)
            assert pixels.dtype == np.uint8 and np.array_equal(pixels, white)
            assert np.array_equal(np.asarray(image.convert("L")), white)
        for flag in (cv2.IMREAD_GRAYSCALE, cv2.IMREAD_UNCHANGED):
            decoded = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
            assert decoded.dtype == np.uint8 and np.array_equal(decoded, white)
        # What the encoder before issue 15 (Pillow, level 6) gave, pixel for pixel.
        with Image.open(io.BytesIO(image_bytes(white))) as before:
            assert np.array_equal(np.asarray(before), pixels)


def test_mask_pngs_are_smaller_than_before_for_a_real_sized_mask():
    mask = np.zeros((720, 1280), dtype=np.uint8)
    cv2.ellipse(mask, (640, 360), (200, 260), 15, 0, 360, 255, thickness=-1)
    assert len(grey_mask_png_bytes(mask)) < len(image_bytes(mask))


def test_a_mask_png_takes_only_grey_bytes():
    with pytest.raises(ValueError, match="height x width uint8"):
        grey_mask_png_bytes(np.zeros((4, 4, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="height x width uint8"):
        grey_mask_png_bytes(np.zeros((4, 4), dtype=bool))


def test_davis_pngs_stay_8_bit_palette_pngs_with_the_same_indices():
    objects = [ObjectKey(f"o{i}", None) for i in range(5)]
    indexed = index_image(dict(zip(objects, masks(), strict=True)), objects)
    many = np.arange(72 * 128, dtype=np.uint32).reshape(72, 128) % 256  # every index
    for pixels in (indexed, many.astype(np.uint8), np.zeros((72, 128), dtype=np.uint8)):
        data = indexed_png_bytes(pixels)
        assert png_header(data) == (128, 72, 8, 3)  # 8-bit, palette
        with Image.open(io.BytesIO(data)) as image:
            assert image.mode == "P" and image.getpalette() == davis_palette()
            assert np.array_equal(np.array(image), pixels)
        # cv2 (no palette support) expands to the palette's colours, as DAVIS viewers show.
        colours = np.array(davis_palette(), dtype=np.uint8).reshape(256, 3)
        shown = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        assert np.array_equal(shown[..., ::-1], colours[pixels])


def test_labelme_mask_shapes_decode_as_labelme_reads_them():
    for mask in masks():
        box = bounding_box(mask)
        if box is None:
            continue
        crop = mask[box.y0 : box.y1 + 1, box.x0 : box.x1 + 1]
        data = encode_mask_crop(mask, box)
        png = base64.b64decode(data)
        with Image.open(io.BytesIO(png)) as image:  # labelme 7.9.1: img_b64_to_arr
            assert image.mode == "L"
            pixels = np.array(image)
        assert set(np.unique(pixels)) <= {0, 1}  # as labelme's img_arr_to_b64 writes them
        assert np.array_equal(pixels.astype(bool), crop)
        assert np.array_equal(decode_mask_crop(data, box, width=128, height=72), mask)


def test_the_mask_store_reads_files_of_any_zlib_level(tmp_path: Path):
    keys = [ObjectKey("a", None), ObjectKey("b", 2)]
    pair = masks(seed=3)[2:4]
    store = MaskStore(tmp_path)
    store.begin()
    store.write(FrameMasks(0, dict(zip(keys, pair, strict=True))))
    # A file as the store wrote it before issue 15: zlib level 6.
    header = {"keys": [list(key) for key in keys], "shape": [72, 128]}
    old = json.dumps(header).encode() + b"\n" + pack_masks(pair, level=6)
    (store.folder / "masks" / "000001.bin").write_bytes(old)
    for frame_index in (0, 1):
        read = store.read(frame_index)
        assert list(read) == keys
        assert all(np.array_equal(read[k], m) for k, m in zip(keys, pair, strict=True))
    new = (store.folder / "masks" / "000000.bin").read_bytes()
    assert new != old and new.partition(b"\n")[0] == old.partition(b"\n")[0]
    assert zlib.decompress(new.partition(b"\n")[2]) == zlib.decompress(pack_masks(pair, level=6))
    assert all(
        np.array_equal(a, b)
        for a, b in zip(
            unpack_masks(pack_masks(pair, level=1), count=2, height=72, width=128),
            pair,
            strict=True,
        )
    )
