"""`labelme-sam2 gui [FOLDER]`: labelme 7.9.1 with a SAM 2 menu (labelme_sam2.app)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from labelme_sam2.errors import UserError

NAME = "gui"
GUI_NEEDS = 'Python >= 3.12 with labelme 7.9.1 and PySide6: pip install "labelme-sam2[gui]"'


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        NAME,
        help="the LabelMe app with a SAM 2 menu: draw, Track folder, step through the masks",
        description="Open labelme 7.9.1 with a SAM 2 menu (Track folder, Re-track changes, "
        "Make prompt, Open video, Export, Settings). Tracking runs in a child process: this "
        "environment's, another one's labelme-sam2 command, or a team server.",
    )
    parser.add_argument(
        "folder",
        type=Path,
        nargs="?",
        default=None,
        metavar="FOLDER",
        help="a folder of frames to open (default: none)",
    )


def run(args: argparse.Namespace) -> int:
    folder: Path | None = args.folder
    if folder is not None and not folder.is_dir():
        raise UserError(str(folder), "not a folder of frames")
    if sys.version_info < (3, 12):
        raise UserError(
            "gui",
            f"labelme 7.9.1 needs {GUI_NEEDS}; this is Python "
            f"{sys.version_info.major}.{sys.version_info.minor}",
        )
    try:
        from labelme_sam2.app.launch import run_app
    except ImportError as error:
        raise UserError(
            "gui", f"{error.name or error} is missing; the app needs {GUI_NEEDS}"
        ) from error
    return run_app(folder)
