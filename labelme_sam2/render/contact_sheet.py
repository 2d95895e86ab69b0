"""A grid of evenly spaced frames, each captioned with its frame name."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

TILE_WIDTH = 480
GAP = 6
CAPTION_HEIGHT = 28
BACKGROUND = 24  # dark gray: overlays stay readable at the tiles' edges


def evenly_spaced(count: int, *, frame_count: int) -> list[int]:
    """`count` frame indices from the first to the last frame, none repeated."""
    if frame_count <= count:
        return list(range(frame_count))
    if count == 1:
        return [0]
    return sorted({round(i * (frame_count - 1) / (count - 1)) for i in range(count)})


def tile_size(width: int, height: int) -> tuple[int, int]:
    tile_w = min(TILE_WIDTH, width)
    return tile_w, round(height * tile_w / width)


def shrink_to_tile(image: np.ndarray) -> np.ndarray:
    """A frame (averaged) or a bool mask (nearest pixel) at tile size: overlays are drawn on
    the tile, so outlines and names keep their size on the sheet."""
    size = tile_size(image.shape[1], image.shape[0])
    if image.dtype == bool:
        small = cv2.resize(image.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
        return small.astype(bool)
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA))


def contact_sheet(
    tiles: Sequence[np.ndarray], captions: Sequence[str], *, columns: int
) -> np.ndarray:
    """Tiles (all one size, from shrink_to_tile) in rows of `columns`, captions below."""
    tile_h, tile_w = tiles[0].shape[:2]
    rows = -(-len(tiles) // columns)
    sheet = np.full(
        (
            GAP + rows * (tile_h + CAPTION_HEIGHT + GAP),
            GAP + min(columns, len(tiles)) * (tile_w + GAP),
            3,
        ),
        BACKGROUND,
        dtype=np.uint8,
    )
    for n, (tile, caption) in enumerate(zip(tiles, captions, strict=True)):
        row, column = divmod(n, columns)
        top = GAP + row * (tile_h + CAPTION_HEIGHT + GAP)
        left = GAP + column * (tile_w + GAP)
        sheet[top : top + tile_h, left : left + tile_w] = tile
        cv2.putText(
            sheet,
            caption,
            (left + 4, top + tile_h + CAPTION_HEIGHT - 9),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.6,
            (235, 235, 235),
            1,
            lineType=cv2.LINE_AA,
        )
    return sheet
