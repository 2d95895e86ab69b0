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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from labelme_sam2.cli.main import build_parser
from labelme_sam2.cli.track import track_and_write
from labelme_sam2.core.frames import Frames
from labelme_sam2.core.prompts import ObjectKey, PromptSet
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
DOG_BOX = (998.0, 380.0, 1268.0, 562.0)  # x0, y0, x1, y1 on the clip's first frame

GC_BGD, GC_FGD, GC_PR_BGD, GC_PR_FGD = cv2.GC_BGD, cv2.GC_FGD, cv2.GC_PR_BGD, cv2.GC_PR_FGD

CORE = 1  # an object's sure core: its predicted mask eroded by CORE times the band

CHANGED_LEVEL = 10  # grey levels: a pixel changed from the last frame, camera motion aside
PLATE_SAMPLES = 15  # frames whose median is a still camera's empty scene
STILL_CAMERA = 0.12  # a camera is still when frames differ from that median this little
SCENE_LEVEL = 12  # colour levels: a pixel this close to the empty scene is background
OBJECT_LEVEL = 40  # and one this far from it is something that is not in the empty scene
SHADOW_TINT = 0.06  # a darker pixel whose colour ratios to the scene differ less is shadow,
SHADOW_DARKEST = 0.8  # if it is at most this bright relative to the scene (pale fur is not)
SCENE_WEIGHT = 10  # how much GrabCut weighs that distance against the colours

Polyline = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Hint:
    """Stand-in only, never written to any file: help for GrabCut with one object on one frame,
    in frame pixels. A box starts the object afresh there; strokes are sure foreground or
    background. (SAM 2 needs none of this; GrabCut cannot tell a white shirt from a white wall.)
    """

    box: tuple[float, float, float, float] | None = None
    fg: tuple[Polyline, ...] = ()
    bg: tuple[Polyline, ...] = ()


Hints = dict[str, dict[int, Hint]]  # object label -> frame index -> hint


@dataclass
class _Guide:
    """What the stand-in goes by for one object on one frame: its prompt and any hint."""

    box: tuple[float, float, float, float] | None = None
    mask: np.ndarray | None = None
    fg: list[Polyline] = field(default_factory=list)
    bg: list[Polyline] = field(default_factory=list)


def _guides(prompts: PromptSet, hints: Hints) -> dict[ObjectKey, dict[int, _Guide]]:
    guides: dict[ObjectKey, dict[int, _Guide]] = {}
    for key, keyframes in prompts.objects.items():
        mine = guides[key] = {}
        for frame_index, prompt in keyframes.items():
            box = prompt.box
            mine[frame_index] = _Guide(
                box=None if box is None else (box.x0, box.y0, box.x1, box.y1),
                mask=prompt.mask,
                fg=[((c.x, c.y),) for c in prompt.clicks if c.positive],
                bg=[((c.x, c.y),) for c in prompt.clicks if not c.positive],
            )
        for frame_index, hint in hints.get(key.label, {}).items():
            guide = mine.setdefault(frame_index, _Guide())
            guide.box = hint.box or guide.box
            guide.fg += hint.fg
            guide.bg += hint.bg
    return guides


class GrabCutStandIn:
    """A `Tracker` whose masks come from GrabCut, for documentation pictures only.

    Objects are followed from their first keyframe forward to the last frame, then backward
    from it to frame 0, at `scale` of the frame size. On each frame an object's previous mask,
    moved along the optical flow, gives GrabCut its trimap: the mask's eroded core sure
    foreground, the rest of it probable foreground, a band around it probable background, the
    rest (and the other objects' cores) sure background; so a mask changes by at most the band
    from one frame to the next. A box (a prompt's or a hint's) starts the object afresh, at up
    to 960 pixels wide; clicks and hint strokes are sure foreground/background; a polygon is
    taken as it is.
    """

    def __init__(
        self, *, hints: Hints | None = None, scale: float = 0.5, iterations: int = 3
    ) -> None:
        self.hints = hints or {}
        self.scale = scale
        self.iterations = iterations
        self.flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        # Each object's colour model (GrabCut's foreground GMM) from where a box started it,
        # by frame: tracking judges every later frame by it, so a mask that took in a bit of
        # wall does not learn the wall's colour and take in more.
        self.models: dict[ObjectKey, dict[int, np.ndarray]] = {}

    def track(
        self, frames: Frames, prompts: PromptSet, *, plan: TrackingPlan | None = None
    ) -> Iterator[FrameMasks]:
        plan = plan or TrackingPlan.everything(prompts, frame_count=len(frames))
        keys: list[ObjectKey] = list(prompts.objects)
        wanted = plan.objects_by_frame()
        if not wanted:
            return
        # Every object on every frame, whatever the plan asks: a stand-in need not keep SAM 2's
        # independent segments, only yield what the plan covers.
        small = self._track_all(frames, prompts)
        size = (frames.width, frames.height)
        for frame_index in sorted(wanted):
            yield FrameMasks(
                frame_index,
                {
                    key: _resize(small[key][frame_index], size)
                    for key in keys
                    if key in wanted[frame_index]
                },
            )

    def _track_all(self, frames: Frames, prompts: PromptSet) -> dict[ObjectKey, list[np.ndarray]]:
        count = len(frames)
        size = (max(1, round(frames.width * self.scale)), max(1, round(frames.height * self.scale)))
        images = [
            cv2.resize(frames.read_rgb(i), size, interpolation=cv2.INTER_AREA) for i in range(count)
        ]
        grays = [cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) for image in images]
        plate = _still_plate(images)
        keys = list(prompts.objects)
        guides = _guides(prompts, self.hints)
        first = {key: min(prompts.objects[key]) for key in keys}
        masks: dict[ObjectKey, list[np.ndarray | None]] = {key: [None] * count for key in keys}
        self.models = {key: {} for key in keys}

        def step(t: int, neighbour: int | None, active: list[ObjectKey]) -> None:
            flow = None if neighbour is None else self.flow.calc(grays[t], grays[neighbour], None)
            predicted: dict[ObjectKey, np.ndarray | None] = {}
            for key in active:
                previous = None if neighbour is None else masks[key][neighbour]
                predicted[key] = None if previous is None else _warp(previous, flow)
            changed = None if flow is None else _changed(grays[t], grays[neighbour], flow)
            scene = None if plate is None else _difference(images[t], plate)
            others = np.zeros(size[::-1], bool)
            for key in keys:
                settled = masks[key][t]
                if key not in active and settled is not None:
                    others |= settled
            found = self._frame(
                t,
                images[t],
                lambda: frames.read_rgb(t),
                predicted,
                {key: guides[key].get(t) for key in active},
                others=others,
                changed=changed,
                scene=scene,
                forward=neighbour is None or neighbour < t,
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
        t: int,
        image: np.ndarray,
        full_rgb: Callable[[], np.ndarray],
        predicted: dict[ObjectKey, np.ndarray | None],
        guides: dict[ObjectKey, _Guide | None],
        *,
        others: np.ndarray,
        changed: np.ndarray | None,
        scene: np.ndarray | None,
        forward: bool,
    ) -> dict[ObjectKey, np.ndarray]:
        """Every active object's mask on one frame (bool, small), overlaps resolved. `others`:
        the masks already settled on this frame, of objects not active here; `changed`: where
        the frame changed from the last one; `scene`: with a still camera, how far each pixel
        is from the empty scene."""
        cores = {
            key: _erode(mask, 2 * _radius(mask))
            for key, mask in predicted.items()
            if mask is not None
        }
        # Objects (re)started here from a box or polygon go first: what they cover is theirs.
        starting = [key for key in predicted if _starts(guides[key], predicted[key])]
        found: dict[ObjectKey, np.ndarray] = {}
        for key in starting + [key for key in predicted if key not in starting]:
            taken = others.copy()
            for other, core in cores.items():
                if other != key:
                    taken |= core
            models = self.models[key]
            # The model of the nearest start behind us in the direction of travel.
            behind = [f for f in models if (f <= t if forward else f >= t)]
            model = models[max(behind) if forward else min(behind)] if behind else None
            found[key], started = self._object(
                image, full_rgb, predicted[key], guides[key], taken, model, changed, scene
            )
            if started is not None:
                models[t] = started
            if key in starting:
                cores[key] = found[key]
        return _resolve_overlaps(found, first=starting)

    def _object(
        self,
        image: np.ndarray,
        full_rgb: Callable[[], np.ndarray],
        predicted: np.ndarray | None,
        guide: _Guide | None,
        taken: np.ndarray,
        model: np.ndarray | None,
        changed: np.ndarray | None,
        scene: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The object's mask, and its colour model when it was started here afresh."""
        height, width = image.shape[:2]
        if guide is not None and guide.mask is not None:
            mask = _resize(guide.mask, (width, height))
            return mask, _colour_model(image, mask)
        if guide is not None and _starts(guide, predicted):
            mask, started = self._start(full_rgb(), guide, taken, scene)
            return _resize(mask, (width, height)), started
        if predicted is None or not predicted.any():
            return np.zeros((height, width), bool), None  # lost, nothing here to find it again
        r = _radius(predicted)
        trimap = np.full((height, width), GC_BGD, np.uint8)
        band = _dilate(predicted, r)
        if scene is not None:
            # A still camera: grow into what is not the empty scene, further for fast legs.
            band = (band | _dilate(predicted, 3 * r)) & (predicted | (scene >= SCENE_LEVEL))
        elif changed is not None:
            band &= predicted | changed  # grow only where something moved, not into the wall
        trimap[band] = GC_PR_BGD
        trimap[predicted] = GC_PR_FGD
        if scene is not None:
            trimap[_dilate(predicted, r) & (scene > OBJECT_LEVEL)] = GC_PR_FGD
        trimap[_erode(predicted, CORE * r)] = GC_FGD
        if scene is not None:
            trimap[(scene < SCENE_LEVEL) & (trimap != GC_FGD)] = GC_BGD
        trimap[taken & (trimap != GC_FGD)] = GC_BGD
        area = band
        if guide is not None:
            area |= _draw_strokes(trimap, guide, self.scale, room=6)
        ys, xs = np.nonzero(area)
        m = max(6, 2 * r)
        roi = _clip((xs.min() - m, ys.min() - m, xs.max() + 1 + m, ys.max() + 1 + m), width, height)
        features = image if scene is None else _with_scene(image, scene)
        result, _ = _grabcut(features, trimap, roi, self.iterations, model=model)
        keep = [] if guide is None else [p for line in guide.fg for p in line]
        return _clean(result, anchor=_dilate(predicted, r), keep=_scaled(keep, self.scale)), None

    def _start(
        self, rgb: np.ndarray, guide: _Guide, taken: np.ndarray, scene: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """An object from a box (or a box around its foreground strokes), at up to 960 pixels
        wide: finer than tracking, since GrabCut from a box needs every detail it can get."""
        scale = min(1.0, 960 / rgb.shape[1])
        height, width = round(rgb.shape[0] * scale), round(rgb.shape[1] * scale)
        image = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
        if guide.box is not None:
            x0, y0, x1, y1 = (round(v * scale) for v in guide.box)
        else:
            points = _scaled([p for line in guide.fg for p in line], scale)
            side = round(0.15 * min(width, height))
            x0, y0 = min(p[0] for p in points) - side, min(p[1] for p in points) - side
            x1, y1 = max(p[0] for p in points) + side, max(p[1] for p in points) + side
        x0, y0, x1, y1 = _clip((x0, y0, x1, y1), width, height)
        trimap = np.full((height, width), GC_BGD, np.uint8)
        trimap[y0:y1, x0:x1] = GC_PR_FGD
        trimap[_resize(taken, (width, height)) & (trimap == GC_PR_FGD)] = GC_BGD
        if scene is not None:
            same = cv2.resize(scene, (width, height), interpolation=cv2.INTER_LINEAR)
            trimap[(same < SCENE_LEVEL) & (trimap == GC_PR_FGD)] = GC_BGD
            image = _with_scene(image, same)
        _draw_strokes(trimap, guide, scale, room=0)
        m = max(8, round(0.3 * max(x1 - x0, y1 - y0)))
        roi = _clip((x0 - m, y0 - m, x1 + m, y1 + m), width, height)
        result, model = _grabcut(image, trimap, roi, 8)
        anchor = np.zeros((height, width), bool)
        anchor[y0:y1, x0:x1] = True
        keep = _scaled([p for line in guide.fg for p in line], scale)
        mask = _clean(result, anchor=anchor, keep=keep)
        return mask, model if mask.any() else None


def _still_plate(images: list[np.ndarray]) -> np.ndarray | None:
    """A still camera's empty scene, the median of some frames; None when the camera moves
    (then most pixels of a frame differ from that median)."""
    picks = np.linspace(0, len(images) - 1, min(PLATE_SAMPLES, len(images))).round()
    stack = np.stack([images[int(i)] for i in picks])
    plate = np.median(stack, axis=0).astype(np.uint8)
    unlike = [(_difference(image, plate) > OBJECT_LEVEL).mean() for image in stack]
    return plate if len(images) >= 5 and np.median(unlike) < STILL_CAMERA else None


def _with_scene(image: np.ndarray, scene: np.ndarray) -> np.ndarray:
    """What GrabCut looks at with a still camera: the red channel replaced by the distance to
    the empty scene, so that a white dog on a pale floor differs in colour as it does there."""
    features = image.copy()
    features[..., 0] = np.minimum(scene.astype(np.uint16) * SCENE_WEIGHT, 255).astype(np.uint8)
    return features


def _difference(image: np.ndarray, plate: np.ndarray) -> np.ndarray:
    """How far each pixel is from the empty scene: the largest channel difference (uint8),
    nought where the pixel is only that scene in shadow (darker, same colour)."""
    a = cv2.GaussianBlur(image, (3, 3), 0).astype(np.float32)
    b = cv2.GaussianBlur(plate, (3, 3), 0).astype(np.float32)
    difference = np.abs(a - b).max(axis=2)
    ratio = (a + 1) / (b + 1)
    brightness = ratio.mean(axis=2)
    tint = np.abs(ratio - brightness[..., None]).max(axis=2)
    shadow = (brightness > 0.3) & (brightness < SHADOW_DARKEST) & (tint < SHADOW_TINT)
    difference[shadow] = 0
    return np.minimum(difference, 255).astype(np.uint8)


def _changed(gray: np.ndarray, neighbour: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Where the frame differs from its neighbour once the camera's own motion (a homography
    fitted to the flow) is taken out: the moving objects' edges, not the still background."""
    height, width = gray.shape
    step = max(4, min(width, height) // 40)
    ys, xs = np.mgrid[step // 2 : height : step, step // 2 : width : step]
    points = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
    moved = points + flow[ys.ravel(), xs.ravel()]
    homography, _ = cv2.findHomography(points, moved, cv2.RANSAC, 1.0)
    if homography is None:
        homography = np.eye(3)
    aligned = cv2.warpPerspective(
        neighbour,
        homography,
        (width, height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    blur = (5, 5)
    difference = cv2.absdiff(cv2.GaussianBlur(gray, blur, 0), cv2.GaussianBlur(aligned, blur, 0))
    return _dilate(difference > CHANGED_LEVEL, 2)


def _starts(guide: _Guide | None, predicted: np.ndarray | None) -> bool:
    """Whether the object starts afresh on this frame rather than following its last mask."""
    if guide is None:
        return False
    lost = predicted is None or not predicted.any()
    return guide.mask is not None or guide.box is not None or (bool(guide.fg) and lost)


def _scaled(points: list[tuple[float, float]], scale: float) -> list[tuple[int, int]]:
    return [(round(x * scale), round(y * scale)) for x, y in points]


def _draw_strokes(trimap: np.ndarray, guide: _Guide, scale: float, *, room: int) -> np.ndarray:
    """Paint the guide's clicks and strokes as sure foreground/background; foreground ones get
    `room` times their width of probable background around them to grow into. Returns where
    strokes were drawn, grown by that room."""
    height, width = trimap.shape
    thickness = max(2, round(0.006 * (width + height)))
    reach = np.zeros((height, width), np.uint8)
    for lines, value in ((guide.fg, GC_FGD), (guide.bg, GC_BGD)):
        for line in lines:
            points = np.array(_scaled(list(line), scale), np.int32).reshape(-1, 1, 2)
            if value == GC_FGD and room:
                grow = np.zeros_like(reach)
                cv2.polylines(grow, [points], False, 1, thickness * room)
                cv2.circle(grow, tuple(points[0, 0]), thickness * room, 1, -1)
                trimap[(grow > 0) & (trimap == GC_BGD)] = GC_PR_BGD
                reach |= grow
            cv2.polylines(trimap, [points], False, int(value), thickness)
            cv2.circle(trimap, tuple(points[0, 0]), thickness, int(value), -1)
            if value == GC_FGD:
                cv2.polylines(reach, [points], False, 1, thickness)
    return reach.astype(bool)


def _grabcut(
    image: np.ndarray,
    trimap: np.ndarray,
    roi: tuple[int, int, int, int],
    iterations: int,
    *,
    model: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """GrabCut on the roi of the image (outside it, nothing) and its foreground model. With a
    `model`, the foreground is judged by it: only the background model is learnt here."""
    x0, y0, x1, y1 = roi
    crop = trimap[y0:y1, x0:x1].copy()
    result = np.zeros(trimap.shape, bool)
    has_bg = np.isin(crop, (GC_BGD, GC_PR_BGD)).any()
    has_fg = np.isin(crop, (GC_FGD, GC_PR_FGD)).any()
    if not (has_bg and has_fg):
        result[y0:y1, x0:x1] = (crop == GC_FGD) | (crop == GC_PR_FGD)
        return result, None
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    region = np.ascontiguousarray(image[y0:y1, x0:x1])
    if model is None:
        cv2.grabCut(region, crop, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    else:
        # The background model from the sure background only: the band the object may grow
        # into holds as much object as background.
        learn = np.where(crop == GC_PR_BGD, GC_PR_FGD, crop).astype(np.uint8)
        if (learn == GC_BGD).any():
            cv2.grabCut(region, learn, None, bgd, fgd, 0, cv2.GC_INIT_WITH_MASK)
        else:
            cv2.grabCut(region, crop.copy(), None, bgd, fgd, 0, cv2.GC_INIT_WITH_MASK)
        fgd = model.copy()
        cv2.grabCut(region, crop, None, bgd, fgd, 1, cv2.GC_EVAL_FREEZE_MODEL)
    result[y0:y1, x0:x1] = (crop == GC_FGD) | (crop == GC_PR_FGD)
    return result, fgd


def _colour_model(image: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """GrabCut's foreground model of the masked pixels."""
    if not mask.any() or mask.all():
        return None
    trimap = np.where(mask, GC_FGD, GC_BGD).astype(np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(image, trimap, None, bgd, fgd, 0, cv2.GC_INIT_WITH_MASK)
    return fgd


def _radius(mask: np.ndarray) -> int:
    """How far a mask may move from one frame to the next: about 5% of the object's size."""
    return int(np.clip(0.05 * np.sqrt(mask.sum()), 2, 10))


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
    grid_x, grid_y = np.meshgrid(
        np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)
    )
    moved = cv2.remap(
        mask.astype(np.float32),
        grid_x + flow[..., 0],
        grid_y + flow[..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
    )
    return moved > 0.5


def _clean(mask: np.ndarray, *, anchor: np.ndarray, keep: list[tuple[int, int]]) -> np.ndarray:
    """Smooth the edge; keep the largest piece on the anchor and the pieces of some size near
    it (an arm cut off by another object), and the pieces under foreground clicks; fill small
    holes."""
    opened = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, _disk(1))
    closed = cv2.morphologyEx(opened, cv2.MORPH_CLOSE, _disk(2))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    if count <= 1:
        return np.zeros_like(mask)
    areas = stats[:, cv2.CC_STAT_AREA].copy()
    areas[0] = 0
    overlap = np.bincount(labels[anchor], minlength=count) > 0
    overlap[0] = False
    main = int(np.argmax(np.where(overlap, areas, 0))) if overlap.any() else int(np.argmax(areas))
    size = np.sqrt(areas[main])
    away = cv2.distanceTransform((labels != main).astype(np.uint8), cv2.DIST_L2, 3)
    nearest = np.full(count, np.inf)
    np.minimum.at(nearest, labels.ravel(), away.ravel())
    chosen = overlap & (areas >= 0.1 * areas[main]) & (nearest <= 0.3 * size)
    chosen[main] = True
    for x, y in keep:
        if 0 <= y < labels.shape[0] and 0 <= x < labels.shape[1] and labels[y, x] > 0:
            chosen[labels[y, x]] = True
    chosen[0] = False
    result = chosen[labels]
    # Holes under 3% of the object are GrabCut noise, not gaps between limbs.
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        (~result).astype(np.uint8), connectivity=4
    )
    limit = 0.03 * result.sum()
    height, width = mask.shape
    for label in range(1, count):
        x, y, w, h, area = stats[label]
        if area < limit and x > 0 and y > 0 and x + w < width and y + h < height:
            result[labels == label] = True
    return result


def _resolve_overlaps(
    masks: dict[ObjectKey, np.ndarray], *, first: list[ObjectKey]
) -> dict[ObjectKey, np.ndarray]:
    """A pixel two objects claim goes to the one started on this frame (the earliest of
    `first`), else to the one it lies deeper inside."""
    masks = dict(masks)
    if not masks:
        return masks
    claimed = np.zeros(next(iter(masks.values())).shape, bool)
    for key in first:
        masks[key] = masks[key] & ~claimed
        claimed |= masks[key]
    rest = [key for key in masks if key not in first]
    for key in rest:
        masks[key] = masks[key] & ~claimed
    if len(rest) < 2:
        return masks
    depth = np.stack(
        [cv2.distanceTransform(masks[key].astype(np.uint8), cv2.DIST_L2, 3) for key in rest]
    )
    owner = depth.argmax(axis=0)
    masks.update({key: masks[key] & (owner == i) for i, key in enumerate(rest)})
    return masks


def _resize(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A bool mask at another size (width, height), edges smoothed rather than blocky."""
    if mask.shape[::-1] == size:
        return mask
    smooth = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    return smooth > 0.5


# The folders -----------------------------------------------------------------------------------


# Placed by eye on the frames (see Hint). Frame 0: the girl's blurred arm, and the grey and
# striped pillows around her legs, which match her skirt. From frame 112: the boy, back from
# behind her, in front of a white curtain as white as his shirt.
BEDROOM_HINTS: Hints = {
    "girl": {
        0: Hint(
            fg=(((442, 148), (470, 180), (500, 210)),),
            bg=(
                ((440, 320), (480, 335)),
                ((440, 362), (470, 370)),
                ((345, 290), (348, 340)),
                ((418, 352), (428, 378)),
            ),
        ),
        180: Hint(box=(305, 10, 515, 365)),
        193: Hint(
            box=(298, 0, 495, 445),
            bg=(((470, 350), (530, 360)), ((398, 330), (412, 370)), ((395, 398), (418, 410))),
        ),
    },
    "boy": {
        106: Hint(box=(85, 225, 215, 465)),
        112: Hint(box=(90, 235, 212, 465)),
        124: Hint(box=(0, 225, 172, 470), fg=(((115, 335), (165, 365)), ((90, 415), (140, 425)))),
        135: Hint(box=(0, 135, 135, 430)),
        145: Hint(box=(0, 290, 105, 540)),
        160: Hint(box=(0, 0, 170, 445), bg=(((78, 310), (75, 420)), ((8, 320), (8, 430)))),
        175: Hint(box=(45, 0, 195, 475), bg=(((118, 370), (118, 430)),)),
        190: Hint(
            box=(25, 95, 215, 540),
            bg=(((40, 150), (60, 290)), ((30, 380), (60, 520)), ((75, 365), (80, 455))),
        ),
        197: Hint(
            box=(88, 0, 252, 430), fg=(((130, 60), (140, 180)),), bg=(((212, 250), (215, 400)),)
        ),
    },
}
DOG_HINTS: Hints = {}  # the still camera's empty scene does what strokes would


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


def track_folder(folder: Path, hints: Hints) -> str:
    args = build_parser().parse_args(["track", str(folder), "--checkpoint", "random"])
    track_input = open_track_input(folder, prompts_folder=None, warn=print)
    tracker = GrabCutStandIn(hints=hints)
    return track_and_write(track_input, tracker=tracker, settings=SETTINGS, args=args)


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
    line = track_folder(folder, BEDROOM_HINTS if args.clip == "bedroom" else DOG_HINTS)
    print(f"{folder}: {line} (GrabCut stand-in, {time.perf_counter() - started:.1f} s in all)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
