"""Fills, the overlay, polygons and DAVIS index images work on each mask's bounding box only
(issue 15: less CPU per frame); they must give exactly what the whole-frame versions gave.
Those versions are kept here, as they were, as the reference."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import cv2
import numpy as np
import pytest

from labelme_sam2.core.prompts import ObjectKey
from labelme_sam2.formats.mask_codec import POLYGON_TOLERANCE_PX, bounding_box, mask_to_polygons
from labelme_sam2.render.fills import BLUR_SIGMA_PER_SIDE, PIXEL_BLOCKS_PER_SIDE, Fill, fill_masks
from labelme_sam2.render.overlay import (
    TINT_ALPHA,
    ObjectLayer,
    draw_label,
    draw_outline,
    draw_overlay,
    scale_for,
)
from labelme_sam2.writers.indexed_pngs import index_image

FILLS = ["white", "avg", "blur", "pixelate", "color:#102030"]
# (height, width): the bench's and the docs' frames, tiny and odd ones, and sides whose
# pixelate block (side / 48) is 49 or 98, where cv2 enlarges a block pixel to 50 or 99
# columns (x * (1 / 49) rounds down below x // 49).
SIZES = [(720, 1280), (540, 960), (31, 17), (1, 1), (2, 5), (97, 101), (100, 2352), (2400, 90)]


# -- the whole-frame versions, as they were before issue 15 ---------------------------------


def reference_fill(rgb: np.ndarray, masks: Sequence[np.ndarray], fill: Fill) -> np.ndarray:
    out = rgb.copy()
    present = [mask for mask in masks if mask.any()]
    if not present:
        return out
    if fill.kind == "avg":
        for mask in present:
            out[mask] = rgb[mask].mean(axis=0).round().astype(np.uint8)
        return out
    height, width = rgb.shape[:2]
    side = max(height, width)
    source: np.ndarray
    if fill.kind == "blur":
        sigma = max(1.0, side * BLUR_SIGMA_PER_SIDE)
        source = np.asarray(cv2.GaussianBlur(rgb, (0, 0), sigmaX=sigma, sigmaY=sigma))
    elif fill.kind == "pixelate":
        block = max(2, round(side / PIXEL_BLOCKS_PER_SIDE))
        small = cv2.resize(
            rgb,
            (max(1, -(-width // block)), max(1, -(-height // block))),
            interpolation=cv2.INTER_AREA,
        )
        big = cv2.resize(
            small, (small.shape[1] * block, small.shape[0] * block), interpolation=cv2.INTER_NEAREST
        )
        source = np.asarray(big[:height, :width])
    else:
        source = np.array((255, 255, 255) if fill.kind == "white" else fill.color, np.uint8)
    covered = np.logical_or.reduce(present)
    out[covered] = source[covered] if source.ndim == 3 else source
    return out


def reference_outline(rgb: np.ndarray, mask: np.ndarray, color, *, thickness: int) -> None:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(rgb, contours, -1, color, thickness, lineType=cv2.LINE_AA)


def reference_overlay(rgb: np.ndarray, layers: Sequence[ObjectLayer]) -> np.ndarray:
    out = rgb.copy()
    scale = scale_for(rgb)
    for layer in layers:
        if not layer.mask.any():
            continue
        color = np.array(layer.color, dtype=np.float32)
        tinted = out[layer.mask].astype(np.float32) * (1 - TINT_ALPHA) + color * TINT_ALPHA
        out[layer.mask] = tinted.round().astype(np.uint8)
        reference_outline(out, layer.mask, layer.color, thickness=max(1, round(2 * scale)))
    for layer in layers:
        box = bounding_box(layer.mask)
        if box is not None:
            draw_label(out, layer.name, x=box.x0, y=box.y0, color=layer.color, scale=scale)
    return out


def reference_polygons(mask: np.ndarray) -> list[list[list[float]]]:
    contours, _ = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    polygons = []
    for contour in contours:
        simplified = cv2.approxPolyDP(contour, POLYGON_TOLERANCE_PX, True).reshape(-1, 2)
        if len(simplified) < 3:
            continue
        points = [[float(x), float(y)] for x, y in simplified]
        top, left = int(simplified[:, 1].min()), int(simplified[:, 0].min())
        polygons.append((-float(cv2.contourArea(contour)), top, left, points))
    polygons.sort(key=lambda item: item[:3])
    return [points for *_, points in polygons]


def reference_index_image(masks: dict[ObjectKey, np.ndarray], objects: Sequence[ObjectKey]):
    indexed = np.zeros(next(iter(masks.values())).shape, dtype=np.uint8)
    for index, key in enumerate(objects, start=1):
        if key in masks:
            indexed[masks[key]] = index
    return indexed


# -- masks of every kind ---------------------------------------------------------------------


def random_mask(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Empty, whole, scattered pixels, a rectangle (often cut by an edge), a ragged one, or
    blobs with holes."""
    mask = np.zeros((height, width), dtype=bool)
    kind = rng.integers(0, 6)
    if kind == 1:
        mask[:] = True
    elif kind == 2:
        mask |= rng.random((height, width)) < 0.01
    elif kind in (3, 4):
        y, x = rng.integers(-height // 4, height), rng.integers(-width // 4, width)
        mask[
            max(0, y) : y + rng.integers(1, height + 1), max(0, x) : x + rng.integers(1, width + 1)
        ] = True
        if kind == 4:
            mask &= rng.random((height, width)) < 0.8
    elif kind == 5:
        coarse = rng.random((max(1, height // 8), max(1, width // 8))) < 0.4
        mask = cv2.resize(coarse.astype(np.uint8), (width, height), cv2.INTER_NEAREST) > 0
    return mask  # kind 0: empty


def scenes(seed: int, count: int) -> Iterator[tuple[np.ndarray, list[np.ndarray]]]:
    """`count` frames of random pixels, each size of SIZES in turn, with 0 to 3 masks."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        height, width = SIZES[i % len(SIZES)]
        rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        yield rgb, [random_mask(rng, height, width) for _ in range(rng.integers(0, 4))]


def scripted_masks() -> list[np.ndarray]:
    """Masks on a 40x60 frame that touch each edge and corner, and one pixel."""
    masks = []
    for rows, cols in [
        (slice(0, 10), slice(0, 10)),
        (slice(30, 40), slice(50, 60)),
        (slice(0, 40), slice(20, 25)),
        (slice(15, 16), slice(0, 60)),
        (slice(20, 21), slice(30, 31)),
    ]:
        mask = np.zeros((40, 60), dtype=bool)
        mask[rows, cols] = True
        masks.append(mask)
    return masks


# -- the tests -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", FILLS)
def test_fills_on_boxes_give_the_whole_frame_pixels(kind: str):
    fill = Fill.parse(kind)
    for rgb, masks in scenes(seed=FILLS.index(kind), count=3 * len(SIZES)):
        assert np.array_equal(fill_masks(rgb, masks, fill=fill), reference_fill(rgb, masks, fill))
    rgb = np.random.default_rng(5).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    edges = scripted_masks()
    assert np.array_equal(fill_masks(rgb, edges, fill=fill), reference_fill(rgb, edges, fill))
    for mask in edges:
        assert np.array_equal(fill_masks(rgb, [mask], fill=fill), reference_fill(rgb, [mask], fill))
    empty = [np.zeros((40, 60), dtype=bool)]
    assert np.array_equal(fill_masks(rgb, empty, fill=fill), rgb)
    assert np.array_equal(fill_masks(rgb, [], fill=fill), rgb)


def test_fills_leave_the_frame_they_are_given_alone():
    rgb = np.random.default_rng(2).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    before = rgb.copy()
    for kind in FILLS:
        fill_masks(rgb, scripted_masks(), fill=Fill.parse(kind))
    assert np.array_equal(rgb, before)  # writers share one decoded frame


def test_overlay_on_boxes_gives_the_whole_frame_pixels():
    colors = [(0, 130, 200), (245, 130, 48), (60, 180, 75)]
    for rgb, masks in scenes(seed=11, count=len(SIZES)):
        layers = [ObjectLayer(f"object {i}", colors[i], m) for i, m in enumerate(masks)]
        assert np.array_equal(draw_overlay(rgb, layers), reference_overlay(rgb, layers))
    rgb = np.zeros((40, 60, 3), dtype=np.uint8)
    layers = [ObjectLayer(f"o{i}", colors[i % 3], m) for i, m in enumerate(scripted_masks())]
    assert np.array_equal(draw_overlay(rgb, layers), reference_overlay(rgb, layers))


def test_outlines_on_boxes_are_the_whole_frame_outlines():
    for _, masks in scenes(seed=12, count=2 * len(SIZES)):
        for mask in [*masks, *scripted_masks()]:
            picture = np.zeros((*mask.shape, 3), dtype=np.uint8)
            ours, theirs = picture.copy(), picture.copy()
            draw_outline(ours, mask, (255, 0, 0), thickness=3)
            reference_outline(theirs, mask, (255, 0, 0), thickness=3)
            assert np.array_equal(ours, theirs)


def test_polygons_from_the_box_are_the_whole_frame_polygons():
    rng = np.random.default_rng(13)
    count = 0
    for _ in range(400):
        height, width = (int(n) for n in rng.integers(1, 90, 2))
        mask = random_mask(rng, height, width)
        assert mask_to_polygons(mask) == reference_polygons(mask)
        count += len(reference_polygons(mask))
    assert count > 300  # most masks gave polygons
    for mask in scripted_masks():
        assert mask_to_polygons(mask) == reference_polygons(mask)
    assert mask_to_polygons(np.zeros((5, 5), dtype=bool)) == []


def test_davis_index_image_from_boxes_is_the_whole_frame_one():
    objects = [ObjectKey("a", None), ObjectKey("b", 1), ObjectKey("c", None)]
    for _, masks in scenes(seed=14, count=2 * len(SIZES)):
        if masks:
            by_key = dict(zip(objects, masks, strict=False))
            expected = reference_index_image(by_key, objects)
            assert np.array_equal(index_image(by_key, objects), expected)
    edges = dict(zip(objects, scripted_masks(), strict=False))
    assert np.array_equal(index_image(edges, objects), reference_index_image(edges, objects))
