"""CPU per frame of each per-frame writer's work (issue 15 item 2), without the tracker, the
video decode or the H.264 encoder: 1280x720 frames, 3 objects the size of 02_cups.mp4's cups,
through the functions the writers call.

Usage: .venv/bin/python bench/writer_costs.py [--frames 30] [--repeat 3]
Prints one Markdown row per step (best of --repeat passes over --frames frames): CPU time
(every thread) and wall time, for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WIDTH, HEIGHT = 1280, 720


def scene(index: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """A textured frame and 3 cups the size of 02_cups.mp4's (about 180x250 pixels) that move
    a little with `index`: one touching the top border, one with a hole, one with a ball (a
    second piece)."""
    rng = np.random.default_rng(index)
    small = rng.integers(0, 256, (HEIGHT // 8, WIDTH // 8, 3), dtype=np.uint8)
    rgb = cv2.resize(small, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
    shift = index % 40
    masks = []
    for left, top in ((260 + shift, -10), (570, 290 + shift // 2), (830 - shift, 290)):
        canvas = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
        cup = np.array(
            [[left, top], [left + 180, top], [left + 160, top + 250], [left + 20, top + 250]]
        )
        cv2.fillPoly(canvas, [cup], 1)
        cv2.ellipse(canvas, (left + 90, top + 250), (70, 12), 0, 0, 360, 1, thickness=-1)
        masks.append(canvas)
    cv2.circle(masks[1], (650, 400 + shift // 2), 18, 0, thickness=-1)  # a hole
    cv2.circle(masks[2], (400 + shift, 460), 38, 1, thickness=-1)  # the ball: a second piece
    return rgb, [mask.astype(bool) for mask in masks]


def best_per_frame(
    run: Callable[[int], object], *, frames: int, repeat: int
) -> tuple[float, float]:
    """(CPU seconds, wall seconds) per frame, each the best of `repeat` passes: CPU time (all
    threads) is what the step costs, wall time includes waiting for the disk."""
    cpu = wall = float("inf")
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        for i in range(frames):
            run(i)
        cpu = min(cpu, (time.process_time() - started_cpu) / frames)
        wall = min(wall, (time.perf_counter() - started) / frames)
    return cpu, wall


def steps(scenes: list[tuple[np.ndarray, list[np.ndarray]]], temp: Path) -> dict[str, Callable]:
    from labelme_sam2.core.prompts import ObjectKey
    from labelme_sam2.core.tracking import FrameMasks
    from labelme_sam2.formats.labelme_json import dumps, new_document, with_tool_shapes
    from labelme_sam2.labelme_adapter.json_writer import masks_to_shapes
    from labelme_sam2.render.fills import Fill, fill_masks
    from labelme_sam2.render.overlay import draw_overlay, object_layers
    from labelme_sam2.reruns import MaskStore
    from labelme_sam2.writers import indexed_pngs, mask_pngs

    keys = [ObjectKey("cup", i) for i in range(3)]
    results = [
        FrameMasks(i, dict(zip(keys, masks, strict=True))) for i, (_, masks) in enumerate(scenes)
    ]
    document = new_document(image_name="f.jpg", width=WIDTH, height=HEIGHT)
    frames = SimpleNamespace(
        stems=[f"{i:05d}" for i in range(len(scenes))], width=WIDTH, height=HEIGHT
    )
    passes = itertools.count()

    def pngs(i: int) -> None:  # what MaskPngWriter encodes: each object and the union
        masks = scenes[i][1]
        for mask in (*masks, np.logical_or.reduce(masks)):
            mask_pngs.png_bytes(mask)

    def davis(i: int) -> None:
        indexed_pngs.indexed_png_bytes(indexed_pngs.index_image(results[i].masks, keys))

    def labelme(shape_format: str) -> Callable[[int], None]:
        def run(i: int) -> None:
            shapes = masks_to_shapes(results[i].masks, shape_format=shape_format)
            dumps(with_tool_shapes(document, shapes))

        return run

    def fill(kind: str) -> Callable[[int], None]:
        chosen = Fill.parse(kind)
        return lambda i: fill_masks(scenes[i][0], scenes[i][1], fill=chosen)

    def overlay(i: int) -> None:
        draw_overlay(scenes[i][0], object_layers(results[i].masks, keys))

    def writer(make: Callable[[Path], Any]) -> Callable[[int], None]:
        """A writer's write(), files included, into a new folder each pass (a file whose
        content is unchanged is not written again)."""
        current: list[Any] = []

        def run(i: int) -> None:
            if i == 0:
                current[:] = [make(temp / f"pass{next(passes)}")]
            current[0].write(results[i])

        return run

    class StoreWriter:  # MaskStore.write, as MaskStoreWriter calls it
        def __init__(self, folder: Path) -> None:
            self.store = MaskStore(folder)
            self.store.begin()

        def write(self, result: FrameMasks) -> None:
            self.store.write(result)

    return {
        "mask PNGs (3 objects + union), encode": pngs,
        "DAVIS PNG, encode": davis,
        "LabelMe JSON, polygons (shapes + JSON text)": labelme("polygon"),
        "LabelMe JSON, mask shapes (shapes + JSON text)": labelme("mask"),
        "masked fill white": fill("white"),
        "masked fill blur": fill("blur"),
        "masked fill pixelate": fill("pixelate"),
        "masked fill avg": fill("avg"),
        "overlay": overlay,
        "MaskPngWriter.write (4 files)": writer(
            lambda folder: mask_pngs.MaskPngWriter(frames, keys, folder=folder)
        ),
        "IndexedPngWriter.write (1 file)": writer(
            lambda folder: indexed_pngs.IndexedPngWriter(frames, keys, folder=folder)
        ),
        "mask store write (1 file)": writer(StoreWriter),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    scenes = [scene(i) for i in range(args.frames)]
    print("| step | CPU ms/frame | wall ms/frame |\n| --- | --- | --- |")
    with tempfile.TemporaryDirectory() as temp:
        for name, run in steps(scenes, Path(temp)).items():
            cpu, wall = best_per_frame(run, frames=args.frames, repeat=args.repeat)
            print(f"| {name} | {cpu * 1000:.1f} | {wall * 1000:.1f} |", flush=True)


if __name__ == "__main__":
    main()
