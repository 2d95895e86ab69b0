"""The shapes our tracker wrote (flags["labelme_sam2"]), as the app shows and edits them."""

from __future__ import annotations

from typing import Any, Protocol

from PySide6.QtCore import Qt

from labelme_sam2.formats.labelme_json import TOOL_FLAG


class HasFlags(Protocol):
    flags: dict[str, bool] | None


def is_predicted(shape: HasFlags) -> bool:
    return bool(shape.flags) and shape.flags.get(TOOL_FLAG) is True  # type: ignore[union-attr]


def make_prompts(shapes: list[Any]) -> int:
    """Clear our flag on the predicted shapes among `shapes`: each becomes the user's own,
    a mask prompt for its object on this frame at the next Track. Returns how many."""
    changed = 0
    for shape in shapes:
        if is_predicted(shape):
            shape.flags = {key: value for key, value in shape.flags.items() if key != TOOL_FLAG}
            changed += 1
    return changed


PREDICTED_POINT_SIZE = 2  # labelme's is 8: a mask's polygon has hundreds of vertices


def predicted_style(shape: HasFlags) -> dict[str, Any]:
    """Dashed outlines and small vertices for predicted shapes, so they stand apart from the
    user's boxes, clicks and polygons at a glance; labelme's own look for everything else."""
    if not is_predicted(shape):
        return {}
    return {"line_style": Qt.PenStyle.DashLine, "point_size": PREDICTED_POINT_SIZE}
