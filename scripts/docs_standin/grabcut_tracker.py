"""The GrabCut stand-in `Tracker` (NOT SAM 2), for documentation pictures only; see
scripts/docs_standin_tracking.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from docs_standin.mask_steps import (
    GC_BGD,
    GC_FGD,
    GC_PR_BGD,
    GC_PR_FGD,
    OBJECT_LEVEL,
    SCENE_LEVEL,
    Guide,
    Polyline,
    changed_pixels,
    clean,
    clip,
    colour_model,
    difference,
    dilate,
    draw_strokes,
    erode,
    grabcut,
    radius,
    resize,
    resolve_overlaps,
    scaled,
    starts,
    still_plate,
    warp,
    with_scene,
)
from labelme_sam2.core.frames import Frames
from labelme_sam2.core.prompts import ObjectKey, PromptSet
from labelme_sam2.core.segments import TrackingPlan
from labelme_sam2.core.tracking import FrameMasks

CORE = 1  # an object's sure core: its predicted mask eroded by CORE times the band


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


def _guides(prompts: PromptSet, hints: Hints) -> dict[ObjectKey, dict[int, Guide]]:
    guides: dict[ObjectKey, dict[int, Guide]] = {}
    for key, keyframes in prompts.objects.items():
        mine = guides[key] = {}
        for frame_index, prompt in keyframes.items():
            box = prompt.box
            mine[frame_index] = Guide(
                box=None if box is None else (box.x0, box.y0, box.x1, box.y1),
                mask=prompt.mask,
                fg=[((c.x, c.y),) for c in prompt.clicks if c.positive],
                bg=[((c.x, c.y),) for c in prompt.clicks if not c.positive],
            )
        for frame_index, hint in hints.get(key.label, {}).items():
            guide = mine.setdefault(frame_index, Guide())
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
        self,
        frames: Frames,
        prompts: PromptSet,
        *,
        plan: TrackingPlan | None = None,
        after_step: Callable[[], None] | None = None,  # a stand-in has no model to share
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
                    key: resize(small[key][frame_index], size)
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
        plate = still_plate(images)
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
                predicted[key] = None if previous is None else warp(previous, flow)
            changed = None if flow is None else changed_pixels(grays[t], grays[neighbour], flow)
            scene = None if plate is None else difference(images[t], plate)
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
        guides: dict[ObjectKey, Guide | None],
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
            key: erode(mask, 2 * radius(mask))
            for key, mask in predicted.items()
            if mask is not None
        }
        # Objects (re)started here from a box or polygon go first: what they cover is theirs.
        starting = [key for key in predicted if starts(guides[key], predicted[key])]
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
        return resolve_overlaps(found, first=starting)

    def _object(
        self,
        image: np.ndarray,
        full_rgb: Callable[[], np.ndarray],
        predicted: np.ndarray | None,
        guide: Guide | None,
        taken: np.ndarray,
        model: np.ndarray | None,
        changed: np.ndarray | None,
        scene: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The object's mask, and its colour model when it was started here afresh."""
        height, width = image.shape[:2]
        if guide is not None and guide.mask is not None:
            mask = resize(guide.mask, (width, height))
            return mask, colour_model(image, mask)
        if guide is not None and starts(guide, predicted):
            mask, started = self._start(full_rgb(), guide, taken, scene)
            return resize(mask, (width, height)), started
        if predicted is None or not predicted.any():
            return np.zeros((height, width), bool), None  # lost, nothing here to find it again
        r = radius(predicted)
        trimap = np.full((height, width), GC_BGD, np.uint8)
        band = dilate(predicted, r)
        if scene is not None:
            # A still camera: grow into what is not the empty scene, further for fast legs.
            band = (band | dilate(predicted, 3 * r)) & (predicted | (scene >= SCENE_LEVEL))
        elif changed is not None:
            band &= predicted | changed  # grow only where something moved, not into the wall
        trimap[band] = GC_PR_BGD
        trimap[predicted] = GC_PR_FGD
        if scene is not None:
            trimap[dilate(predicted, r) & (scene > OBJECT_LEVEL)] = GC_PR_FGD
        trimap[erode(predicted, CORE * r)] = GC_FGD
        if scene is not None:
            trimap[(scene < SCENE_LEVEL) & (trimap != GC_FGD)] = GC_BGD
        trimap[taken & (trimap != GC_FGD)] = GC_BGD
        area = band
        if guide is not None:
            area |= draw_strokes(trimap, guide, self.scale, room=6)
        ys, xs = np.nonzero(area)
        m = max(6, 2 * r)
        roi = clip((xs.min() - m, ys.min() - m, xs.max() + 1 + m, ys.max() + 1 + m), width, height)
        features = image if scene is None else with_scene(image, scene)
        result, _ = grabcut(features, trimap, roi, self.iterations, model=model)
        keep = [] if guide is None else [p for line in guide.fg for p in line]
        return clean(result, anchor=dilate(predicted, r), keep=scaled(keep, self.scale)), None

    def _start(
        self, rgb: np.ndarray, guide: Guide, taken: np.ndarray, scene: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """An object from a box (or a box around its foreground strokes), at up to 960 pixels
        wide: finer than tracking, since GrabCut from a box needs every detail it can get."""
        scale = min(1.0, 960 / rgb.shape[1])
        height, width = round(rgb.shape[0] * scale), round(rgb.shape[1] * scale)
        image = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
        if guide.box is not None:
            x0, y0, x1, y1 = (round(v * scale) for v in guide.box)
        else:
            points = scaled([p for line in guide.fg for p in line], scale)
            side = round(0.15 * min(width, height))
            x0, y0 = min(p[0] for p in points) - side, min(p[1] for p in points) - side
            x1, y1 = max(p[0] for p in points) + side, max(p[1] for p in points) + side
        x0, y0, x1, y1 = clip((x0, y0, x1, y1), width, height)
        trimap = np.full((height, width), GC_BGD, np.uint8)
        trimap[y0:y1, x0:x1] = GC_PR_FGD
        trimap[resize(taken, (width, height)) & (trimap == GC_PR_FGD)] = GC_BGD
        if scene is not None:
            same = cv2.resize(scene, (width, height), interpolation=cv2.INTER_LINEAR)
            trimap[(same < SCENE_LEVEL) & (trimap == GC_PR_FGD)] = GC_BGD
            image = with_scene(image, same)
        draw_strokes(trimap, guide, scale, room=0)
        m = max(8, round(0.3 * max(x1 - x0, y1 - y0)))
        roi = clip((x0 - m, y0 - m, x1 + m, y1 + m), width, height)
        result, model = grabcut(image, trimap, roi, 8)
        anchor = np.zeros((height, width), bool)
        anchor[y0:y1, x0:x1] = True
        keep = scaled([p for line in guide.fg for p in line], scale)
        mask = clean(result, anchor=anchor, keep=keep)
        return mask, model if mask.any() else None
