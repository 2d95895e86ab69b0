"""LabelMe JSON files: read, recognise our own shapes, write back with the 5.x keys.

Files keep every key the user had, in the user's order; only the shapes this tool wrote
(marked by `flags["labelme_sam2"] = true`) are replaced on a re-run. labelme 5.5.0 and 7.9.1
both read what this module writes.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import sys
from pathlib import Path
from typing import Literal, TypedDict, cast, get_args

from labelme_sam2.errors import InputError

# The version new files claim: the 5.x format, which labelme 5.5.0 and 7.x both read.
LABELME_FORMAT_VERSION = "5.5.0"
TOOL_FLAG = "labelme_sam2"

ShapeFormat = Literal["polygon", "mask"]  # the shapes this tool writes masks as
ShapeType = Literal[
    "polygon",
    "rectangle",
    "oriented_rectangle",
    "circle",
    "line",
    "point",
    "linestrip",
    "points",
    "mask",
]
SHAPE_TYPES: frozenset[str] = frozenset(get_args(ShapeType))


class LabelmeShape(TypedDict):
    """One shape as labelme 5.x writes it, and as this tool writes its own (tool_shape).

    A user's shape in a file read from disk may lack keys or hold others (labelme 3 files
    have no `shape_type`): it is checked where it is read as a prompt
    (labelme_adapter/shapes_to_prompts.py) and otherwise written back as it was."""

    label: str
    points: list[list[float]]
    group_id: int | None
    description: str
    shape_type: ShapeType
    flags: dict[str, bool]
    mask: str | None


class _LabelmeShapes(TypedDict):
    shapes: list[LabelmeShape]  # the one key every LabelMe file has (read_document checks it)


class LabelmeDocument(_LabelmeShapes, total=False):
    """A LabelMe file's top level: what new_document writes, with the 5.x keys.

    A file read from disk may lack any key but `shapes`, and keeps every other key the user
    had (labelme 3's `lineColor` and `fillColor`, another tool's) in the user's order:
    with_tool_shapes replaces only our shapes, so what is not named here is written back as it
    was."""

    version: str
    flags: dict[str, bool]
    imagePath: str
    imageData: str | None
    imageHeight: int
    imageWidth: int


# Caps on what a LabelMe file may be, so that a hostile or broken one costs one error line
# and not the machine. With its frame embedded (imageData, base64), a LabelMe file of a 4K
# frame is about 10 MiB; labelme's own files nest 4 levels deep (shapes, a shape, points, a
# point).
MAX_LABELME_BYTES = 64 << 20
MAX_JSON_DEPTH = 100


def read_document(path: Path) -> LabelmeDocument:
    """Parse a LabelMe file; the top level must be an object with a `shapes` list.

    Only that is checked here: the other keys and each shape hold what the file had, and are
    checked where they are used (labelme_adapter/chunk.py, shapes_to_prompts.py). A UTF-8 byte
    order mark is accepted: Windows editors write one."""
    document = read_json_file(path)
    if not isinstance(document, dict):
        raise InputError(path, "not a LabelMe file: the top level is not a JSON object")
    shapes = document.get("shapes")
    if not isinstance(shapes, list):
        raise InputError(path, "not a LabelMe file: no 'shapes' list")
    return cast(LabelmeDocument, document)


def read_json_file(path: Path) -> object:
    """A JSON file we did not write (a LabelMe file, extract's manifest), read as a hostile one
    may be: a regular file of sane size, UTF-8 (a byte order mark accepted), numbers and
    nesting within bounds; anything else is one InputError."""
    check_labelme_file(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(path, f"not UTF-8 text ({error.reason})") from error
    except OSError as error:
        raise InputError(path, f"cannot read ({_why_unreadable(path, error)})") from error
    return _parse(path, text)


def check_labelme_file(path: Path) -> None:
    """Refuse, from its metadata alone, a LabelMe file that cannot be read whole: anything but
    a regular file (a FIFO waits forever for a writer, /dev/zero never ends) or one over
    MAX_LABELME_BYTES. Call it before anything opens the file.

    A file swapped for a FIFO between this check and the read still hangs: the folder's owner
    can do that, and no one else."""
    try:
        info = path.stat()
    except OSError as error:
        raise InputError(path, f"cannot read ({_why_unreadable(path, error)})") from error
    if stat.S_ISDIR(info.st_mode):
        raise InputError(path, "a folder, not a LabelMe file")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(path, f"not a regular file ({_file_kind(info.st_mode)})")
    if info.st_size > MAX_LABELME_BYTES:
        raise InputError(
            path,
            f"{info.st_size:,} bytes, over the {MAX_LABELME_BYTES >> 20} MiB limit for a "
            "LabelMe file",
        )


def _file_kind(mode: int) -> str:
    kinds = {
        stat.S_ISFIFO: "a FIFO",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
        stat.S_ISSOCK: "a socket",
    }
    return next((kind for test, kind in kinds.items() if test(mode)), "not a plain file")


def _parse(path: Path, text: str) -> object:
    """json.loads, with every way it fails on hostile text as one InputError: a number of
    thousands of digits (Python's int-from-text limit) and nesting deep enough to exhaust the
    stack are ValueError and RecursionError, not JSONDecodeError. Nesting is capped well below
    the stack's depth, so writing the document back (json_writer) cannot exhaust it either."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            path, f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from error
    except RecursionError as error:
        raise InputError(path, f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from error
    except ValueError as error:  # json's int(): over sys.get_int_max_str_digits() digits
        raise InputError(path, _long_integer(text)) from error
    if _depth(document) > MAX_JSON_DEPTH:
        raise InputError(path, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return document


def _long_integer(text: str) -> str:
    limit = sys.get_int_max_str_digits()
    found = re.search(rf"(?<![\w.\"])-?(\d{{{limit + 1},}})(?![\w.])", text)
    if found is None:
        return f"a number of more than {limit} digits"
    line = text.count("\n", 0, found.start()) + 1
    column = found.start() - text.rfind("\n", 0, found.start())
    return (
        f"an integer of {len(found.group(1))} digits at line {line} column {column}; "
        f"numbers may have at most {limit}"
    )


def _depth(value: object) -> int:
    """How deep lists and objects nest in `value` (a number or a string is 0), counted
    without recursion: the point is to refuse what recursion cannot handle."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item)
    return deepest


def _why_unreadable(path: Path, error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        # A listed file that is not found is most often a link whose target is gone.
        try:
            target = os.readlink(path)
        except OSError:
            pass
        else:
            return f"a symbolic link to {target}, which does not exist"
    return error.strerror or str(error)


def new_document(*, image_name: str, width: int, height: int) -> LabelmeDocument:
    return {
        "version": LABELME_FORMAT_VERSION,
        "flags": {},
        "shapes": [],
        "imagePath": image_name,
        "imageData": None,
        "imageHeight": height,
        "imageWidth": width,
    }


def is_tool_shape(shape: object) -> bool:
    if not isinstance(shape, dict):
        return False
    flags = shape.get("flags")
    return isinstance(flags, dict) and flags.get(TOOL_FLAG) is True


def with_tool_shapes(document: LabelmeDocument, shapes: list[LabelmeShape]) -> LabelmeDocument:
    """The document with its user shapes untouched and our shapes replaced by `shapes`."""
    user_shapes = [s for s in document["shapes"] if not is_tool_shape(s)]
    return {**document, "shapes": [*user_shapes, *shapes]}


def tool_shape(
    *,
    label: str,
    group_id: int | None,
    shape_type: ShapeFormat,
    points: list[list[float]],
    mask: str | None = None,
) -> LabelmeShape:
    return {
        "label": label,
        "points": points,
        "group_id": group_id,
        "description": "",
        "shape_type": shape_type,
        "flags": {TOOL_FLAG: True},
        "mask": mask,
    }


def dumps(document: LabelmeDocument) -> bytes:
    """Serialise as labelme does (2-space indent, UTF-8); same input, same bytes: exactly
    `json.dumps(document, ensure_ascii=False, indent=2)`.

    Python's json indents in pure Python, 2 µs a number; the shapes' points, nearly all of a
    file, are written here in one pass instead (4x faster), so a frame of ragged masks does not
    hold the GIL for tens of milliseconds while the model's thread waits for it. Any point
    that is not a pair of plain numbers, or a document whose text could hold our placeholder,
    goes through json alone."""
    shapes = document.get("shapes")
    points_text: list[str] = []
    if isinstance(shapes, list) and all(isinstance(shape, dict) for shape in shapes):
        stand_ins: list[object] = []
        for shape in shapes:
            text = _points_text(shape.get("points"))
            if text is None:
                stand_ins.append(shape)
            else:
                stand_ins.append({**shape, "points": f"{_PLACEHOLDER}{len(points_text)}"})
                points_text.append(text)
        if points_text:
            text = json.dumps({**document, "shapes": stand_ins}, ensure_ascii=False, indent=2)
            if len(_PLACED.findall(text)) == len(points_text):  # no other string held one
                placed = _PLACED.sub(lambda found: points_text[int(found[1])], text)
                return placed.encode("utf-8")
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


_PLACEHOLDER = "\x00labelme-sam2 points "  # json writes "\\u0000...": no LabelMe text has it
_PLACED = re.compile(r'"\\u0000labelme-sam2 points (\d+)"')
_POINT_INDENT = " " * 8  # a point in "shapes": [ { "points": [ here ] } ]


def _points_text(points: object) -> str | None:
    """The JSON of a shape's points as json.dumps(indent=2) writes it at its depth, or None
    when they are not all [x, y] pairs of finite ints or floats."""
    if not isinstance(points, list):
        return None
    if not points:
        return "[]"
    inner = _POINT_INDENT + "  "
    lines = []
    for point in points:
        if not (isinstance(point, list) and len(point) == 2):
            return None
        x, y = point
        x_text, y_text = _number_text(x), _number_text(y)
        if x_text is None or y_text is None:
            return None
        lines.append(f"{_POINT_INDENT}[\n{inner}{x_text},\n{inner}{y_text}\n{_POINT_INDENT}]")
    return "[\n" + ",\n".join(lines) + "\n      ]"


def _number_text(value: object) -> str | None:
    """As json writes a number (float.__repr__, int.__repr__, also for numpy's float64)."""
    if type(value) is float or isinstance(value, float):
        return float.__repr__(value) if math.isfinite(value) else None
    if type(value) is int:
        return int.__repr__(value)
    return None
