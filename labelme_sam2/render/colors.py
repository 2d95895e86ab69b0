"""Colours: one per object for overlays, DAVIS's palette for indexed masks, and names users
type on the command line."""

from __future__ import annotations

import re

RGB = tuple[int, int, int]

# Vivid, far apart, and neither the green nor the red of positive and negative clicks;
# cycled when there are more objects.
OBJECT_COLORS: tuple[RGB, ...] = (
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (255, 225, 25),
    (240, 50, 230),
    (0, 128, 128),
    (170, 110, 40),
    (210, 245, 60),
    (128, 0, 0),
    (250, 190, 212),
    (0, 0, 128),
)

NAMED_COLORS: dict[str, RGB] = {
    "white": (255, 255, 255),
    "black": (0, 0, 0),
    "gray": (128, 128, 128),
    "red": (230, 25, 25),
    "orange": (255, 140, 0),
    "yellow": (255, 225, 25),
    "green": (40, 180, 60),
    "cyan": (0, 200, 220),
    "blue": (20, 90, 230),
    "purple": (145, 30, 180),
    "magenta": (240, 50, 230),
    "pink": (255, 105, 180),
}

_HEX = re.compile(r"^#([0-9a-fA-F]{6})$")


def object_color(index: int) -> RGB:
    """The overlay colour of the object at `index` (0-based, the tracking order)."""
    return OBJECT_COLORS[index % len(OBJECT_COLORS)]


def parse_color(text: str) -> RGB:
    """`#RRGGBB` or a name from NAMED_COLORS; ValueError naming the choices otherwise."""
    found = _HEX.match(text.strip())
    if found:
        value = int(found.group(1), 16)
        return (value >> 16) & 255, (value >> 8) & 255, value & 255
    name = text.strip().lower()
    if name in NAMED_COLORS:
        return NAMED_COLORS[name]
    raise ValueError(f"unknown colour {text!r}: use #RRGGBB or one of {', '.join(NAMED_COLORS)}")


def davis_palette() -> list[int]:
    """The 256-colour palette of DAVIS and PASCAL VOC annotation PNGs, flat [r, g, b, ...]:
    index 0 black, 1 (128, 0, 0), 2 (0, 128, 0) ... each index's bits spread over r, g, b."""
    palette: list[int] = []
    for index in range(256):
        r = g = b = 0
        bits = index
        for shift in range(7, -1, -1):
            r |= (bits & 1) << shift
            g |= ((bits >> 1) & 1) << shift
            b |= ((bits >> 2) & 1) << shift
            bits >>= 3
        palette += [r, g, b]
    return palette


def text_color_on(background: RGB) -> RGB:
    """Black or white, whichever reads better on `background`."""
    r, g, b = background
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 150 else (255, 255, 255)
