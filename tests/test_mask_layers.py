"""Mask layers for other tools (DAVIS indexed PNGs, COCO RLE JSON, YOLO polygons), checked
exactly against the scripted tracker and with the tools' own readers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO

from labelme_sam2.formats.coco_rle import encode_rle
from labelme_sam2.formats.mask_codec import polygon_to_mask
from labelme_sam2.render.colors import davis_palette
from labelme_sam2.writers.yolo_labels import yolo_lines
from tests.mask_readers import decode_rle, parse_yolo_line
from tests.outputs_helpers import expected_masks, track_with_outputs

SHARED_BEDROOM = Path(__file__).resolve().parents[2] / "shared" / "data" / "frames" / "bedroom"


def test_davis_pngs_hold_each_objects_index(bedroom: Path):
    tracked = track_with_outputs(bedroom, layers=("davis",))
    folder = bedroom.parent / "bedroom_davis"
    with (folder / "objects.csv").open() as table:
        assert list(csv.reader(table)) == [["index", "label", "group_id"], ["1", "boy", ""],
                                           ["2", "girl", ""]]  # fmt: skip
    overlaps = 0
    for frame_index in range(len(tracked.frames)):
        with Image.open(folder / f"{frame_index:05d}.png") as png:
            assert png.mode == "P" and png.getpalette()[: 3 * 256] == davis_palette()
            values = np.asarray(png)
        masks = expected_masks(tracked, frame_index)
        boy, girl = (
            masks[next(k for k in masks if k.label == "boy")],
            masks[next(k for k in masks if k.label == "girl")],
        )
        assert np.array_equal(values == 0, ~(boy | girl))
        assert np.array_equal(values == 2, girl)  # the later object wins an overlap
        assert np.array_equal(values == 1, boy & ~girl)
        overlaps += int((boy & girl).any())
    assert overlaps > 0  # the rule above was exercised
    assert davis_palette()[3:9] == [128, 0, 0, 0, 128, 0]  # DAVIS's own colours for 1 and 2


def test_coco_json_round_trips_through_pycocotools(bedroom: Path):
    tracked = track_with_outputs(bedroom, layers=("coco",))
    path = bedroom.parent / "bedroom_coco.json"
    coco = COCO(str(path))  # pycocotools' own reader indexes it
    document = json.loads(path.read_text())
    objects = list(tracked.prompts.objects)
    assert [c["name"] for c in document["categories"]] == ["boy", "girl"]
    assert [(t["id"], t["label"]) for t in document["tracks"]] == [(1, "boy"), (2, "girl")]
    assert [image["file_name"] for image in document["images"]] == [
        f"{i:05d}.jpg" for i in range(len(tracked.frames))
    ]
    hidden = 0
    for frame_index in range(len(tracked.frames)):
        masks = expected_masks(tracked, frame_index)
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=[frame_index + 1]))
        by_track = {a["track_id"]: a for a in annotations}
        for track_id, key in enumerate(objects, start=1):
            if not masks[key].any():
                assert track_id not in by_track  # hidden: no annotation
                hidden += 1
                continue
            annotation = by_track[track_id]
            assert np.array_equal(coco.annToMask(annotation).astype(bool), masks[key])
            rle = {**annotation["segmentation"]}
            rle["counts"] = rle["counts"].encode()
            assert annotation["area"] == int(coco_mask.area(rle)) == int(masks[key].sum())
            assert annotation["bbox"] == [int(v) for v in coco_mask.toBbox(rle)]
            assert annotation["category_id"] == 1 + ["boy", "girl"].index(key.label)
    assert hidden > 0


def test_rle_codec_round_trips_odd_shapes():
    rng = np.random.default_rng(5)
    for shape in [(1, 1), (7, 13), (540, 961)]:
        mask = rng.random(shape) > 0.7
        assert np.array_equal(decode_rle(encode_rle(mask)), mask)
        encoded = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
        assert encode_rle(mask)["counts"] == encoded["counts"].decode()


def grabcut_masks() -> list[np.ndarray]:
    """Real-shaped masks: GrabCut of the real bedroom frame inside each box of 00000.json."""
    cv2.setRNGSeed(0)  # GrabCut's clustering starts at random
    rgb = np.asarray(Image.open(SHARED_BEDROOM / "00000.jpg").convert("RGB"))
    shapes = json.loads((SHARED_BEDROOM / "00000.json").read_text())["shapes"]
    masks = []
    for shape in (s for s in shapes if s["shape_type"] == "rectangle"):
        (x0, y0), (x1, y1) = shape["points"]
        rect = (int(min(x0, x1)), int(min(y0, y1)), int(abs(x1 - x0)), int(abs(y1 - y0)))
        labels = np.zeros(rgb.shape[:2], np.uint8)
        background, foreground = np.zeros((1, 65)), np.zeros((1, 65))
        bgr = np.ascontiguousarray(rgb[..., ::-1])
        cv2.grabCut(bgr, labels, rect, background, foreground, 3, cv2.GC_INIT_WITH_RECT)
        masks.append(np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)))
    return masks


@pytest.mark.skipif(not SHARED_BEDROOM.is_dir(), reason="needs ../shared/data")
def test_yolo_polygons_give_the_masks_back():
    masks = grabcut_masks()
    assert len(masks) == 2
    for mask in masks:
        filled = np.zeros_like(mask)
        height, width = mask.shape
        for line in yolo_lines(mask, 3):
            class_id, points = parse_yolo_line(line, width=width, height=height)
            assert class_id == 3
            filled |= polygon_to_mask(points, width=width, height=height)
        iou = (filled & mask).sum() / (filled | mask).sum()
        assert iou >= 0.98, iou


def test_yolo_labels_for_every_frame(bedroom: Path):
    tracked = track_with_outputs(bedroom, layers=("yolo",))
    folder = bedroom.parent / "bedroom_yolo"
    assert '  0: "boy"\n  1: "girl"\n' in (folder / "data.yaml").read_text()
    frames = tracked.frames
    for frame_index in range(len(frames)):
        lines = (folder / "labels" / f"{frame_index:05d}.txt").read_text().splitlines()
        masks = expected_masks(tracked, frame_index)
        for class_id, key in enumerate(tracked.prompts.objects):
            drawn = np.zeros((frames.height, frames.width), dtype=bool)
            for line in lines:
                cls, points = parse_yolo_line(line, width=frames.width, height=frames.height)
                if cls == class_id:
                    drawn |= polygon_to_mask(points, width=frames.width, height=frames.height)
            if not masks[key].any():
                assert not drawn.any()
                continue
            target = masks[key].copy()
            target |= drawn & ~target & _holes(target)  # YOLO polygons fill holes
            assert (drawn & target).sum() / (drawn | target).sum() >= 0.98


def _holes(mask: np.ndarray) -> np.ndarray:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    solid = np.zeros(mask.shape, np.uint8)
    cv2.drawContours(solid, contours, -1, 1, thickness=cv2.FILLED)
    return solid.astype(bool) & ~mask
