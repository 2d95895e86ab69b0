"""Steps of the GrabCut stand-in on one frame's masks: the still camera's empty scene,
changed pixels, trimaps, GrabCut itself, and clean-up. Documentation pictures only."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from labelme_sam2.core.prompts import ObjectKey

GC_BGD, GC_FGD, GC_PR_BGD, GC_PR_FGD = cv2.GC_BGD, cv2.GC_FGD, cv2.GC_PR_BGD, cv2.GC_PR_FGD


CHANGED_LEVEL = 10  # grey levels: a pixel changed from the last frame, camera motion aside
PLATE_SAMPLES = 15  # frames whose median is a still camera's empty scene
STILL_CAMERA = 0.12  # a camera is still when frames differ from that median this little
SCENE_LEVEL = 12  # colour levels: a pixel this close to the empty scene is background
OBJECT_LEVEL = 40  # and one this far from it is something that is not in the empty scene
SHADOW_TINT = 0.06  # a darker pixel whose colour ratios to the scene differ less is shadow,
SHADOW_DARKEST = 0.8  # if it is at most this bright relative to the scene (pale fur is not)
SCENE_WEIGHT = 10  # how much GrabCut weighs that distance against the colours

Polyline = tuple[tuple[float, float], ...]


@dataclass
class Guide:
    """What the stand-in goes by for one object on one frame: its prompt and any hint."""

    box: tuple[float, float, float, float] | None = None
    mask: np.ndarray | None = None
    fg: list[Polyline] = field(default_factory=list)
    bg: list[Polyline] = field(default_factory=list)


def still_plate(images: list[np.ndarray]) -> np.ndarray | None:
    """A still camera's empty scene, the median of some frames; None when the camera moves
    (then most pixels of a frame differ from that median)."""
    picks = np.linspace(0, len(images) - 1, min(PLATE_SAMPLES, len(images))).round()
    stack = np.stack([images[int(i)] for i in picks])
    plate = np.median(stack, axis=0).astype(np.uint8)
    unlike = [(difference(image, plate) > OBJECT_LEVEL).mean() for image in stack]
    return plate if len(images) >= 5 and np.median(unlike) < STILL_CAMERA else None


def with_scene(image: np.ndarray, scene: np.ndarray) -> np.ndarray:
    """What GrabCut looks at with a still camera: the red channel replaced by the distance to
    the empty scene, so that a white dog on a pale floor differs in colour as it does there."""
    features = image.copy()
    features[..., 0] = np.minimum(scene.astype(np.uint16) * SCENE_WEIGHT, 255).astype(np.uint8)
    return features


def difference(image: np.ndarray, plate: np.ndarray) -> np.ndarray:
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


def changed_pixels(gray: np.ndarray, neighbour: np.ndarray, flow: np.ndarray) -> np.ndarray:
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
    return dilate(difference > CHANGED_LEVEL, 2)


def starts(guide: Guide | None, predicted: np.ndarray | None) -> bool:
    """Whether the object starts afresh on this frame rather than following its last mask."""
    if guide is None:
        return False
    lost = predicted is None or not predicted.any()
    return guide.mask is not None or guide.box is not None or (bool(guide.fg) and lost)


def scaled(points: list[tuple[float, float]], scale: float) -> list[tuple[int, int]]:
    return [(round(x * scale), round(y * scale)) for x, y in points]


def draw_strokes(trimap: np.ndarray, guide: Guide, scale: float, *, room: int) -> np.ndarray:
    """Paint the guide's clicks and strokes as sure foreground/background; foreground ones get
    `room` times their width of probable background around them to grow into. Returns where
    strokes were drawn, grown by that room."""
    height, width = trimap.shape
    thickness = max(2, round(0.006 * (width + height)))
    reach = np.zeros((height, width), np.uint8)
    for lines, value in ((guide.fg, GC_FGD), (guide.bg, GC_BGD)):
        for line in lines:
            points = np.array(scaled(list(line), scale), np.int32).reshape(-1, 1, 2)
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


def grabcut(
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


def colour_model(image: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """GrabCut's foreground model of the masked pixels."""
    if not mask.any() or mask.all():
        return None
    trimap = np.where(mask, GC_FGD, GC_BGD).astype(np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(image, trimap, None, bgd, fgd, 0, cv2.GC_INIT_WITH_MASK)
    return fgd


def radius(mask: np.ndarray) -> int:
    """How far a mask may move from one frame to the next: about 5% of the object's size."""
    return int(np.clip(0.05 * np.sqrt(mask.sum()), 2, 10))


def disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def erode(mask: np.ndarray, radius: int) -> np.ndarray:
    return cv2.erode(mask.astype(np.uint8), disk(radius)).astype(bool)


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    return cv2.dilate(mask.astype(np.uint8), disk(radius)).astype(bool)


def clip(box: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    return max(0, x0), max(0, y0), min(width, x1), min(height, y1)


def warp(mask: np.ndarray, flow: np.ndarray | None) -> np.ndarray:
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


def clean(mask: np.ndarray, *, anchor: np.ndarray, keep: list[tuple[int, int]]) -> np.ndarray:
    """Smooth the edge; keep the largest piece on the anchor and the pieces of some size near
    it (an arm cut off by another object), and the pieces under foreground clicks; fill small
    holes."""
    opened = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, disk(1))
    closed = cv2.morphologyEx(opened, cv2.MORPH_CLOSE, disk(2))
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


def resolve_overlaps(
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


def resize(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A bool mask at another size (width, height), edges smoothed rather than blocky."""
    if mask.shape[::-1] == size:
        return mask
    smooth = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    return smooth > 0.5
