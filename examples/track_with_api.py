"""Track a LabelMe frame folder through the library API (docs/api.md).

Loads SAM 2 once, tracks FOLDER with a progress line per written frame, and writes
FOLDER_overlay.mp4 and FOLDER_masks/ beside it. With --cancel-after N, the run is cancelled
once N frames are written: every file is then old or new, and the next run recomputes.

    python examples/track_with_api.py path/to/frames --model sam2.1_hiera_tiny

Exit code 2 with one line on stderr for anything the user can fix (as `labelme-sam2 track`).
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from labelme_sam2.api import ModelOptions, OutputOptions, UserError, load_model, track


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Track a LabelMe frame folder with SAM 2.")
    parser.add_argument("folder", type=Path, metavar="FOLDER", help="frames and LabelMe files")
    parser.add_argument("--model", default="sam2.1_hiera_tiny", metavar="NAME")
    parser.add_argument("--checkpoint", default=None, metavar="PATH")
    parser.add_argument("--image-size", type=int, default=None, metavar="N")
    parser.add_argument("--device", default="auto", metavar="D", help="auto, cuda, mps or cpu")
    parser.add_argument("--cancel-after", type=int, default=None, metavar="N")
    args = parser.parse_args(argv)

    def warn(message: str) -> None:
        print(f"warning: {message}", file=sys.stderr)

    cancel = threading.Event()

    def on_progress(done: int, total: int) -> None:
        # Runs after frame `done` is written, in the thread that called track().
        print(f"{done}/{total}", flush=True)
        if args.cancel_after is not None and done >= args.cancel_after:
            cancel.set()  # the model stops at its next step, each output after its frame

    try:
        options = ModelOptions(
            model=args.model,
            checkpoint=args.checkpoint,
            device=args.device,
            image_size=args.image_size,
        )  # checked here: a bad name, device or size is a UserError
        model = load_model(options, warn=warn)  # once; reuse it for any number of folders
        result = track(
            args.folder,
            model=model,
            outputs=OutputOptions(videos=("overlay",), layers=("png",)),
            on_progress=on_progress,
            cancel=cancel,
            warn=warn,
        )
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(result.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
