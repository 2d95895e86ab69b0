"""STAND-IN masks for the documentation pictures only: GrabCut, not SAM 2.

A development helper, not part of the installed package (nothing under `labelme_sam2/`
imports it). Where no SAM 2 weights are at hand, it still leaves a folder exactly as
`labelme-sam2 track` would (the LabelMe files with the masks, and the mask store in
`.labelme-sam2/`), so that `render`, `strobe` and the other commands that read a finished run
can draw the README pictures on real footage. The masks come from OpenCV's GrabCut,
re-initialised on every frame from the previous frame's mask moved along the optical flow;
they are plausible, not SAM 2's, and must never be presented as SAM 2 results or benchmarks.
The run's settings string is "docs-standin-grabcut", so a later real `track` run on the same
folder recomputes everything.

    python scripts/docs_standin_tracking.py bedroom OUT_DIR   # OUT_DIR/bedroom, 200 frames
    python scripts/docs_standin_tracking.py strobe OUT_DIR    # OUT_DIR/dog, 51 frames

`bedroom` copies the shared bedroom frames and their two LabelMe files; `strobe` extracts
frames 114-164 of the shared 01_dog.mp4 (the dog walks from the right edge to the woman over a
still background) and prompts a box around the dog on the first. An OUT_DIR/NAME left by an
earlier run is replaced; any other existing folder there is refused. The tracked folder must
stay where it was made: the mask store records the frames' paths and times.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from labelme_sam2.cli.main import build_parser
from labelme_sam2.cli.track import track_and_write
from labelme_sam2.core.frames import Frames
from labelme_sam2.core.prompts import Box, FramePrompt, ObjectKey, PromptSet
from labelme_sam2.core.segments import TrackingPlan
from labelme_sam2.core.tracking import FrameMasks
from labelme_sam2.formats.mask_store import STORE_DIR
from labelme_sam2.labelme_adapter.track_input import open_track_input

SETTINGS = "docs-standin-grabcut"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# The strobe clip: source frames 114..164 of 01_dog.mp4 (29.97 fps), and the dog on the first.
DOG_VIDEO = "videos/01_dog.mp4"
DOG_START_S = 3.79  # frame 114 is at 3.804 s, frame 113 at 3.770 s
DOG_END_S = 5.49  # frame 164 is at 5.472 s, frame 165 at 5.506 s
DOG_BOX = (1000.0, 380.0, 1280.0, 560.0)  # x0, y0, x1, y1 on the clip's first frame

GC_BGD, GC_FGD, GC_PR_BGD, GC_PR_FGD = cv2.GC_BGD, cv2.GC_FGD, cv2.GC_PR_BGD, cv2.GC_PR_FGD


class GrabCutStandIn:
    """A `Tracker` whose masks come from GrabCut, for documentation pictures only.

    Objects are followed from their first keyframe forward to the last frame, then backward
    from it to frame 0. On each frame an object's previous mask, moved along the optical flow,
    gives GrabCut its trimap: its eroded core sure foreground, the mask and a band around it
    probable foreground, an enlarged box around that probable background, the rest (and the
    other objects' cores) sure background. A box prompt starts an object from the box; clicks
    on any keyframe become sure foreground/background dots; a polygon is taken as it is.
    """

    def __init__(self, *, scale: float = 0.5, iterations: int = 3) -> None:
        self.scale = scale
        self.iterations = iterations
        self.flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def track(
        self, frames: Frames, prompts: PromptSet, *, plan: TrackingPlan | None = None
    ) -> Iterator[FrameMasks]:
        plan = plan or TrackingPlan.everything(prompts, frame_count=len(frames))
        keys: list[ObjectKey] = list(prompts.objects)
        wanted: dict[int, set[ObjectKey]] = {}
        for key, frame_index in plan.keyframes:
            wanted.setdefault(frame_index, set()).add(key)
        for segment in plan.segments:
            for frame_index in segment.frames:
                wanted.setdefault(frame_index, set()).add(segment.key)
        if not wanted:
            return
        # Every object on every frame, whatever the plan asks: GrabCut is cheap, and a
        # stand-in need not keep SAM 2's independent segments.
        small = self._track_all(frames, prompts)
        size = (frames.width, frames.height)
        for frame_index in sorted(wanted):
            yield FrameMasks(
                frame_index,
                {
                    key: _upscale(small[key][frame_index], size)
                    for key in keys
                    if key in wanted[frame_index]
                },
            )

    def _track_all(self, frames: Frames, prompts: PromptSet) -> dict[ObjectKey, list[np.ndarray]]:
        count = len(frames)
        width = max(1, round(frames.width * self.scale))
        height = max(1, round(frames.height * self.scale))
        images = [
            cv2.resize(frames.read_rgb(i), (width, height), interpolation=cv2.INTER_AREA)
            for i in range(count)
        ]
        grays = [cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) for image in images]
        keys = list(prompts.objects)
        first = {key: min(prompts.objects[key]) for key in keys}
        masks: dict[ObjectKey, list[np.ndarray | None]] = {key: [None] * count for key in keys}

        def step(t: int, neighbour: int | None, active: list[ObjectKey]) -> None:
            flow = None if neighbour is None else self.flow.calc(grays[t], grays[neighbour], None)
            predicted: dict[ObjectKey, np.ndarray | None] = {}
            for key in active:
                previous = None if neighbour is None else masks[key][neighbour]
                predicted[key] = None if previous is None else _warp(previous, flow)
            settled = [m for key in keys if key not in active and (m := masks[key][t]) is not None]
            found = self._frame(
                images[t],
                predicted,
                {key: prompts.objects[key].get(t) for key in active},
                settled=settled,
            )
            for key in active:
                masks[key][t] = found[key]

        start = min(first.values())
        for t in range(start, count):
            step(t, None if t == start else t - 1, [key for key in keys if first[key] <= t])
        for t in range(max(first.values()) - 1, -1, -1):
            step(t, t + 1, [key for key in keys if first[key] > t])
        done: dict[ObjectKey, list[np.ndarray]] = {}
        for key in keys:
            done[key] = [m for m in masks[key] if m is not None]
            assert len(done[key]) == count, "every frame gets every object's mask"
        return done

    def _frame(
        self,
        image: np.ndarray,
        predicted: dict[ObjectKey, np.ndarray | None],
        prompts: dict[ObjectKey, FramePrompt | None],
        *,
        settled: list[np.ndarray],
    ) -> dict[ObjectKey, np.ndarray]:
        """Every active object's mask on one frame (bool, small size), overlaps resolved."""
        height, width = image.shape[:2]
        cores: dict[ObjectKey, np.ndarray] = {}
        for key, mask in predicted.items():
            cores[key] = (
                np.zeros((height, width), bool) if mask is None else _erode(mask, _radius(mask))
            )
        found: dict[ObjectKey, np.ndarray] = {}
        for key, mask in predicted.items():
            others = np.zeros((height, width), bool)
            for other, core in cores.items():
                if other != key:
                    others |= core
            for done in settled:
                others |= done
            found[key] = self._object(image, mask, prompts[key], others)
        return _resolve_overlaps(found)

    def _object(
        self,
        image: np.ndarray,
        predicted: np.ndarray | None,
        prompt: FramePrompt | None,
        others: np.ndarray,
    ) -> np.ndarray:
        height, width = image.shape[:2]
        empty = np.zeros((height, width), bool)
        s = self.scale
        if prompt is not None and prompt.mask is not None:
            return _downscale(prompt.mask, (width, height))
        trimap = np.full((height, width), GC_BGD, np.uint8)
        if prompt is not None and prompt.box is not None:
            box = prompt.box
            x0, y0 = int(box.x0 * s), int(box.y0 * s)
            x1, y1 = int(np.ceil(box.x1 * s)), int(np.ceil(box.y1 * s))
            margin = max(8, round(0.3 * max(x1 - x0, y1 - y0)))
            roi = _clip((x0 - margin, y0 - margin, x1 + margin, y1 + margin), width, height)
            trimap[y0:y1, x0:x1] = GC_PR_FGD
            anchor = empty.copy()
            anchor[y0:y1, x0:x1] = True
        elif predicted is not None and predicted.any():
            r = _radius(predicted)
            band = _dilate(predicted, r)
            trimap[_dilate(predicted, 3 * r)] = GC_PR_BGD
            trimap[band] = GC_PR_FGD
            trimap[_erode(predicted, r)] = GC_FGD
            trimap[others & (trimap != GC_FGD)] = GC_BGD
            ys, xs = np.nonzero(band)
            margin = 4 * r
            roi = _clip(
                (xs.min() - margin, ys.min() - margin, xs.max() + 1 + margin, ys.max() + 1 + margin),
                width,
                height,
            )
            anchor = predicted
        elif prompt is not None and any(c.positive for c in prompt.clicks):
            # Only clicks, and nothing to go on: a box around the positive ones.
            side = round(0.2 * min(width, height))
            xs = [c.x * s for c in prompt.clicks if c.positive]
            ys = [c.y * s for c in prompt.clicks if c.positive]
            box = _clip(
                (int(min(xs)) - side, int(min(ys)) - side, int(max(xs)) + side, int(max(ys)) + side),
                width,
                height,
            )
            trimap[box[1] : box[3], box[0] : box[2]] = GC_PR_FGD
            roi = _clip((box[0] - side, box[1] - side, box[2] + side, box[3] + side), width, height)
            anchor = empty.copy()
            anchor[box[1] : box[3], box[0] : box[2]] = True
        else:
            return empty  # lost, and no prompt here to find it again
        dots: list[tuple[int, int, bool]] = []
        if prompt is not None:
            dot = max(2, round(0.012 * (width + height)))
            for click in prompt.clicks:
                cx, cy = int(click.x * s), int(click.y * s)
                cv2.circle(trimap, (cx, cy), dot, GC_FGD if click.positive else GC_BGD, -1)
                dots.append((cx, cy, click.positive))
                roi = _clip(
                    (
                        min(roi[0], cx - dot),
                        min(roi[1], cy - dot),
                        max(roi[2], cx + dot + 1),
                        max(roi[3], cy + dot + 1),
                    ),
                    width,
                    height,
                )
        x0, y0, x1, y1 = roi
        crop = trimap[y0:y1, x0:x1].copy()
        has_bg = np.isin(crop, (GC_BGD, GC_PR_BGD)).any()
        has_fg = np.isin(crop, (GC_FGD, GC_PR_FGD)).any()
        if not (has_bg and has_fg):
            return anchor & (trimap != GC_BGD)
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.grabCut(
            np.ascontiguousarray(image[y0:y1, x0:x1]),
            crop,
            None,
            bgd,
            fgd,
            self.iterations,
            cv2.GC_INIT_WITH_MASK,
        )
        result = empty.copy()
        result[y0:y1, x0:x1] = (crop == GC_FGD) | (crop == GC_PR_FGD)
        keep = [(cx, cy) for cx, cy, positive in dots if positive]
        return _clean(result, anchor=anchor, keep=keep)


def _radius(mask: np.ndarray) -> int:
    """A trimap band width that grows with the object: about a tenth of its size."""
    return int(np.clip(0.06 * np.sqrt(mask.sum()), 2, 12))


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _erode(mask: np.ndarray, radius: int) -> np.ndarray:
    return cv2.erode(mask.astype(np.uint8), _disk(radius)).astype(bool)


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    return cv2.dilate(mask.astype(np.uint8), _disk(radius)).astype(bool)


def _clip(box: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    return max(0, x0), max(0, y0), min(width, x1), min(height, y1)


def _warp(mask: np.ndarray, flow: np.ndarray | None) -> np.ndarray:
    """The mask moved to the next frame: `flow` maps each pixel there to where it was."""
    if flow is None:
        return mask
    height, width = mask.shape
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height))
    moved = cv2.remap(
        mask.astype(np.float32),
        grid_x + flow[..., 0],
        grid_y.astype(np.float32) + flow[..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
    )
    return moved > 0.5


def _clean(mask: np.ndarray, *, anchor: np.ndarray, keep: list[tuple[int, int]]) -> np.ndarray:
    """Smooth the edge, drop specks and pieces away from where the object was, fill holes."""
    opened = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, _disk(1))
    closed = cv2.morphologyEx(opened, cv2.MORPH_CLOSE, _disk(2))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    if count <= 1:
        return np.zeros_like(mask)
    areas = stats[1:, cv2.CC_STAT_AREA]
    overlap = np.bincount(labels[anchor], minlength=count)[1:]
    largest = areas[overlap > 0].max() if (overlap > 0).any() else areas.max()
    chosen = (areas >= 0.15 * largest) & (overlap > 0)
    for x, y in keep:
        if 0 <= y < labels.shape[0] and 0 <= x < labels.shape[1] and labels[y, x] > 0:
            chosen[labels[y, x] - 1] = True
    result = chosen[labels - 1] & (labels > 0)
    # Holes smaller than a tenth of the object are GrabCut noise, not gaps between limbs.
    inverse = (~result).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(inverse, connectivity=4)
    limit = 0.1 * result.sum()
    height, width = mask.shape
    for label in range(1, count):
        x, y, w, h, area = stats[label]
        if area < limit and x > 0 and y > 0 and x + w < width and y + h < height:
            result[labels == label] = True
    return result


def _resolve_overlaps(masks: dict[ObjectKey, np.ndarray]) -> dict[ObjectKey, np.ndarray]:
    """A pixel two objects claim goes to the one it lies deeper inside."""
    keys = list(masks)
    if len(keys) < 2:
        return masks
    depth = np.stack(
        [cv2.distanceTransform(masks[key].astype(np.uint8), cv2.DIST_L2, 3) for key in keys]
    )
    owner = depth.argmax(axis=0)
    return {key: masks[key] & (owner == i) for i, key in enumerate(keys)}


def _upscale(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    smooth = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    return smooth > 0.5


def _downscale(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.5


# The folders -----------------------------------------------------------------------------------


def _fresh_folder(folder: Path) -> None:
    """Make `folder` empty: one this script left before is replaced, anything else refused."""
    if folder.exists():
        if not (folder / STORE_DIR).is_dir():
            sys.exit(f"{folder} exists and is not a tracked folder; choose another OUT_DIR")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def prepare_bedroom(out_dir: Path, data: Path) -> Path:
    source = data / "frames" / "bedroom"
    folder = out_dir / "bedroom"
    _fresh_folder(folder)
    for path in sorted(source.glob("*.jpg")) + sorted(source.glob("*.json")):
        shutil.copyfile(path, folder / path.name)
    return folder


def prepare_strobe(out_dir: Path, data: Path) -> Path:
    folder = out_dir / "dog"
    _fresh_folder(folder)
    folder.rmdir()  # extract wants to make it
    subprocess.run(
        [
            sys.executable,
            "-m",
            "labelme_sam2",
            "extract",
            str(data / DOG_VIDEO),
            "--out",
            str(folder),
            "--start",
            str(DOG_START_S),
            "--end",
            str(DOG_END_S),
        ],
        check=True,
    )
    x0, y0, x1, y1 = DOG_BOX
    document = {
        "version": "5.5.0",
        "flags": {},
        "shapes": [
            {
                "label": "dog",
                "points": [[x0, y0], [x1, y1]],
                "group_id": None,
                "description": "",
                "shape_type": "rectangle",
                "flags": {},
                "mask": None,
            }
        ],
        "imagePath": "00000.jpg",
        "imageData": None,
        "imageHeight": 720,
        "imageWidth": 1280,
    }
    (folder / "00000.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return folder


def track_folder(folder: Path) -> str:
    args = build_parser().parse_args(["track", str(folder), "--checkpoint", "random"])
    track_input = open_track_input(folder, prompts_folder=None, warn=print)
    return track_and_write(track_input, tracker=GrabCutStandIn(), settings=SETTINGS, args=args)


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Stand-in tracking (GrabCut, NOT SAM 2) for the documentation pictures."
    )
    parser.add_argument("clip", choices=["bedroom", "strobe"])
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    parser.add_argument(
        "--data", type=Path, default=SHARED_DATA, help=f"the shared data (default: {SHARED_DATA})"
    )
    args = parser.parse_args()
    prepare = prepare_bedroom if args.clip == "bedroom" else prepare_strobe
    folder = prepare(args.out_dir.resolve(), args.data)
    started = time.perf_counter()
    line = track_folder(folder)
    print(f"{folder}: {line} (GrabCut stand-in, {time.perf_counter() - started:.1f} s in all)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
