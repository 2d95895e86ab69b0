"""Conversions between masks and the ways they are stored: polygons, LabelMe mask shapes
(base64 PNG of the bounding-box crop), and bit-packed blobs (in memory and in the mask store)."""

from __future__ import annotations

import base64
import binascii
import io
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw

from labelme_sam2.core.mask import Mask
from labelme_sam2.formats.images import grey_mask_png_bytes

# Polygons from masks: contour vertices may stray this far (pixels) to drop redundant points.
POLYGON_TOLERANCE_PX = 1.0


def polygon_to_mask(points: list[tuple[float, float]], *, width: int, height: int) -> Mask:
    """Rasterise a polygon exactly as labelme's shape_to_mask does (fill plus outline)."""
    canvas = Image.new("L", (width, height), 0)
    ImageDraw.Draw(canvas).polygon(points, outline=1, fill=1)
    return np.asarray(canvas, dtype=bool)


def mask_to_polygons(mask: Mask) -> list[list[list[float]]]:
    """Outer contours of each connected part, largest first; holes are not represented.

    Vertices are pixel coordinates, so `polygon_to_mask` gives the mask back up to the
    simplification tolerance. Parts too small to form a polygon (under 3 vertices) are dropped.
    """
    box = bounding_box(mask)
    if box is None:
        return []
    # One pass over the bounding box only: findContours sees zeros beyond an image's edge, as
    # beyond the box in the frame, and `offset` gives frame coordinates, so the contours are
    # the ones the whole frame gives.
    contours, _ = cv2.findContours(
        _crop(mask, box).view(np.uint8),
        cv2.RETR_EXTERNAL,
        cv2.CHAIN_APPROX_SIMPLE,
        offset=(box.x0, box.y0),
    )
    polygons: list[tuple[float, int, int, list[list[float]]]] = []
    for contour in contours:
        simplified = cv2.approxPolyDP(contour, POLYGON_TOLERANCE_PX, True).reshape(-1, 2)
        if len(simplified) < 3:
            continue
        # [x, y] lists made in C (tolist), as LabelMe's JSON holds them: a ragged mask (random
        # weights at 1024 px) has thousands of vertices a frame, and this thread holds the GIL
        # the model's thread needs.
        points = simplified.astype(np.float64).tolist()
        top, left = (int(v) for v in simplified.min(axis=0)[::-1])
        polygons.append((-float(cv2.contourArea(contour)), top, left, points))
    polygons.sort(key=lambda item: item[:3])
    return [points for *_, points in polygons]


@dataclass(frozen=True)
class BoundingBox:
    """Where a mask is: inclusive whole-pixel bounds, as labelme stores a mask shape's points.

    Not a prompt (core.prompts.Box: float corners the user drew) and not Label Studio's
    geometry (PercentBox in the Label Studio backend: percent of the image, top-left plus size)."""

    x0: int
    y0: int
    x1: int
    y1: int


def bounding_box(mask: Mask) -> BoundingBox | None:
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))  # only the rows in use
    return BoundingBox(int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1]))


def _crop(mask: Mask, box: BoundingBox) -> Mask:
    """The box's pixels, contiguous (a bool array, so .view(np.uint8) is 0/1 without a copy)."""
    return np.ascontiguousarray(mask[box.y0 : box.y1 + 1, box.x0 : box.x1 + 1], dtype=bool)


def encode_mask_crop(mask: Mask, box: BoundingBox) -> str:
    """Base64 PNG of the crop: 8-bit greyscale, 0/1 values as labelme's img_arr_to_b64 writes
    them (labelme reads np.array(PIL.Image.open(...)).astype(bool))."""
    png = grey_mask_png_bytes(_crop(mask, box).view(np.uint8))
    return base64.b64encode(png).decode("ascii")


def decode_mask_crop(data: str, box: BoundingBox, *, width: int, height: int) -> Mask:
    """A LabelMe mask shape as a full-frame bool mask; ValueError if it does not fit its box.

    The box is checked against the image, and the PNG's size against the box, before any
    pixel is decoded: a few kB of PNG can claim 20000x20000 pixels (a decompression bomb)."""
    if box.x0 < 0 or box.y0 < 0 or box.x1 >= width or box.y1 >= height:
        raise ValueError(f"mask lies outside the {width}x{height} image")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"mask is not a base64 PNG ({error})") from error
    crop = _decode_crop(raw, (box.x1 - box.x0 + 1, box.y1 - box.y0 + 1))
    full = np.zeros((height, width), dtype=bool)
    full[box.y0 : box.y1 + 1, box.x0 : box.x1 + 1] = crop
    return full


def _decode_crop(raw: bytes, size: tuple[int, int]) -> Mask:
    """The crop's pixels > 0, if the image is `size` (width, height); else ValueError."""
    _check_crop_size(_png_size(raw), size)
    try:
        image = Image.open(io.BytesIO(raw))
    except Image.DecompressionBombError as error:  # not a PNG, so not checked above
        raise ValueError(f"mask image is too large to decode ({error})") from error
    except (OSError, ValueError, SyntaxError) as error:
        raise ValueError(f"mask is not a base64 PNG ({error})") from error
    with image:
        _check_crop_size(image.size, size)  # labelme writes PNG; Pillow reads the rest
        try:
            return np.asarray(image.convert("L")) > 0
        except (OSError, ValueError, SyntaxError) as error:
            raise ValueError(f"mask is not a base64 PNG ({error})") from error


def _check_crop_size(found: tuple[int, int] | None, expected: tuple[int, int]) -> None:
    if found is not None and found != expected:
        raise ValueError(
            f"mask is {found[0]}x{found[1]} but its points span {expected[0]}x{expected[1]} pixels"
        )


def _png_size(raw: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's header, without Pillow: Pillow refuses (or warns about)
    a huge image as it opens it, before its size can be compared with the box. None for
    what is not a PNG."""
    if raw[:8] != b"\x89PNG\r\n\x1a\n" or raw[12:16] != b"IHDR" or len(raw) < 24:
        return None
    width, height = struct.unpack(">II", raw[16:24])
    return width, height


def pack_masks(masks: Sequence[Mask], *, level: int) -> bytes:
    """Masks of one size as their bits, one after another, zlib-compressed at `level`."""
    return zlib.compress(b"".join(np.packbits(mask, axis=None).tobytes() for mask in masks), level)


def unpack_masks(data: bytes, *, count: int, height: int, width: int) -> list[Mask]:
    """What pack_masks made of `count` masks of height x width; ValueError (or zlib.error)
    if `data` is not that."""
    bits = np.frombuffer(zlib.decompress(data), dtype=np.uint8)
    per_mask = (height * width + 7) // 8
    if bits.size != count * per_mask:
        raise ValueError(f"{bits.size} bytes of mask bits where {count * per_mask} were due")
    return [
        np.unpackbits(bits[i * per_mask : (i + 1) * per_mask], count=height * width)
        .reshape(height, width)
        .astype(bool)
        for i in range(count)
    ]


@dataclass(frozen=True)
class PackedMask:
    """A mask at about 1/200 of its size, for holding many frames' results in memory."""

    height: int
    width: int
    data: bytes

    @classmethod
    def pack(cls, mask: Mask) -> PackedMask:
        height, width = mask.shape
        return cls(height, width, pack_masks([mask], level=1))

    def unpack(self) -> Mask:
        return unpack_masks(self.data, count=1, height=self.height, width=self.width)[0]
