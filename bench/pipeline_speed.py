"""End-to-end frames/s of `labelme-sam2 track VIDEO --prompts DIR` against the model's own rate
(issue 15): everything but the model is the real command (decoding, polygons, LabelMe files,
the mask store, PNG layers, fills, H.264), and the model is a stand-in that costs a fixed time
per frame.

Usage: .venv/bin/python bench/pipeline_speed.py [--clips 02_cups.mp4 ...] [--objects 1 3]
       [--outputs labelme masked] [--model-fps 64 1000] [--frames N] [--quick]
       [--profile LINES] [--videos DIR]
Runs every combination on the shared 1280x720 clips (default: all of them), each in a fresh
temp folder (a link to the clip, a prompts folder with one rectangle per object on frame 0),
and prints one Markdown row per combination for docs/benchmarks.md: the model-only rate (frames
/ seconds inside the stand-in's model step), the end-to-end rate (frames / wall time of the
whole track call), their ratio, the wall time, the CPU time (this process's threads and the
ffmpeg it runs) and the time the stand-in spent reading frames. Outputs: `labelme` = LabelMe
files only; `masked` = `--video masked --export png,davis,coco`. `--frames N` re-encodes the
first N frames of a longer clip (H.264, in the temp folder). `--quick`: 30 frames of
02_cups.mp4 at a model of 1000 frames/s, a smoke run of seconds. `--profile LINES` prints
cProfile's top LINES by cumulative and by own time for each run (the main thread only; the
profiler slows the run, so its row is not a figure). The default run takes about 5 minutes of
CPU on a 2-core VM.

The stand-in goes in through the public seam, `labelme_sam2.api.track(model=LoadedModel(...))`
(docs/api.md), so no code is patched; the outputs are parsed from the `track` command's own
flags and the command's progress bar is used, so the run is what `track` does once its model
is loaded.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import math
import pstats
import resource
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
VIDEOS = REPO.parent / "shared" / "data" / "videos"

from labelme_sam2.api import (  # noqa: E402 (after the path is set)
    FrameMasks,
    Frames,
    LoadedModel,
    ObjectKey,
    OutputOptions,
    PromptSet,
    StepHook,
    TrackingPlan,
    track,
)

SIZE = (1280, 720)  # the clips issue 15 measures on
# `track` flags of each output set, parsed by the command's own parser.
OUTPUTS: dict[str, list[str]] = {
    "labelme": [],
    "masked-png": ["--video", "masked", "--export", "png"],  # issue 15's done-when row
    "masked": ["--video", "masked", "--export", "png,davis,coco"],
}
OUTPUT_NAMES = {
    "labelme": "LabelMe files",
    "masked-png": "masked + png",
    "masked": "masked + png,davis,coco",
}
BOX = (240, 320)  # each object's prompt rectangle, width x height
PERIOD = 90  # frames per loop of an object's path
Rect = tuple[float, float, float, float]  # x0, y0, x1, y1


@dataclass(frozen=True)
class Clip:
    path: Path
    frames: int


@dataclass(frozen=True)
class Case:
    clip: Clip
    objects: int
    outputs: str
    model_fps: float


@dataclass(frozen=True)
class Measured:
    frames: int
    model_seconds: float  # inside the stand-in's model step (sleep + masks)
    decode_seconds: float  # the stand-in reading its frames, as SAM 2's frame source does
    wall_seconds: float  # the whole track() call
    # CPU time of this process (every thread) and of the encoders it ran (ffmpeg), over the
    # call: steadier than wall time on a machine other work shares.
    cpu_seconds: float

    @property
    def model_fps(self) -> float:
        return self.frames / self.model_seconds

    @property
    def end_to_end_fps(self) -> float:
        return self.frames / self.wall_seconds


class StandInTracker:
    """A Tracker that sleeps 1/model_fps per frame (a GPU call releases the GIL the same way)
    and returns an ellipse per object inside its frame-0 box, moving with the frame index.

    It reads each frame it tracks, as Sam2Tracker's frame source does, so decoding stays where
    the real command does it; that time is counted apart from the model's."""

    def __init__(self, model_fps: float, boxes: Sequence[Rect]) -> None:
        self.seconds_per_frame = 1.0 / model_fps
        self.boxes = list(boxes)
        self.model_seconds = 0.0
        self.decode_seconds = 0.0
        self.frames = 0

    def track(
        self,
        frames: Frames,
        prompts: PromptSet,
        *,
        plan: TrackingPlan | None = None,
        after_step: StepHook | None = None,
    ) -> Iterator[FrameMasks]:
        plan = plan or TrackingPlan.everything(prompts, frame_count=len(frames))
        keys: list[ObjectKey] = list(prompts.objects)
        stamps = [_ellipse(x1 - x0, y1 - y0) for x0, y0, x1, y1 in self.boxes]
        wanted = plan.objects_by_frame()
        for frame_index in sorted(wanted):
            started = time.perf_counter()
            frames.read_rgb(frame_index)
            decoded = time.perf_counter()
            time.sleep(self.seconds_per_frame)
            masks = {
                key: _stamped(stamps[i], self.boxes[i], frame_index, frames.width, frames.height)
                for i, key in enumerate(keys)
                if key in wanted[frame_index]
            }
            self.decode_seconds += decoded - started
            self.model_seconds += time.perf_counter() - decoded
            self.frames += 1
            if after_step is not None:
                after_step()
            yield FrameMasks(frame_index, masks)


def _ellipse(width: float, height: float) -> np.ndarray:
    """The ellipse filling a width x height box, drawn once per run (a mask per frame is then
    a cheap copy, so the stand-in costs what it is asked to)."""
    h, w = int(height), int(width)
    yy, xx = np.mgrid[0:h, 0:w]
    return ((xx - (w - 1) / 2) / (w / 2)) ** 2 + ((yy - (h - 1) / 2) / (h / 2)) ** 2 <= 1


def _stamped(
    stamp: np.ndarray,
    box: Rect,
    frame_index: int,
    width: int,
    height: int,
) -> np.ndarray:
    """A full-frame mask with `stamp` where the box has moved to on this frame (a loop of
    PERIOD frames), clipped to the frame."""
    angle = 2 * math.pi * frame_index / PERIOD
    left = int(box[0] + 80 * math.sin(angle))
    top = int(box[1] + 40 * math.cos(angle))
    mask = np.zeros((height, width), dtype=bool)
    h, w = stamp.shape
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + w, width), min(top + h, height)
    if x0 < x1 and y0 < y1:
        mask[y0:y1, x0:x1] = stamp[y0 - top : y1 - top, x0 - left : x1 - left]
    return mask


def object_boxes(count: int) -> list[Rect]:
    """`count` rectangles side by side across the middle of a 1280x720 frame."""
    width, height = SIZE
    boxes = []
    for i in range(count):
        cx = width * (i + 1) / (count + 1)
        boxes.append(
            (cx - BOX[0] / 2, (height - BOX[1]) / 2, cx + BOX[0] / 2, (height + BOX[1]) / 2)
        )
    return boxes


def write_prompts(folder: Path, boxes: Sequence[Rect]) -> None:
    """folder/00000.json: a LabelMe file with one rectangle per object on frame 0."""
    folder.mkdir()
    shapes: list[dict[str, Any]] = [
        {
            "label": f"object{i + 1}",
            "points": [[x0, y0], [x1, y1]],
            "group_id": None,
            "description": "",
            "shape_type": "rectangle",
            "flags": {},
            "mask": None,
        }
        for i, (x0, y0, x1, y1) in enumerate(boxes)
    ]
    document: dict[str, Any] = {
        "version": "5.5.0",
        "flags": {},
        "shapes": shapes,
        "imagePath": "00000.jpg",
        "imageData": None,
        "imageHeight": SIZE[1],
        "imageWidth": SIZE[0],
    }
    (folder / "00000.json").write_text(json.dumps(document, indent=2))


def output_options(name: str) -> OutputOptions:
    """What `track VIDEO --prompts DIR <flags>` would pass to the API for this output set."""
    from labelme_sam2.cli import track as track_command
    from labelme_sam2.cli.main import build_parser
    from labelme_sam2.cli.output_flags import output_options as from_flags

    args = build_parser([track_command]).parse_args(["track", "clip.mp4", *OUTPUTS[name]])
    return from_flags(args)


def cut(clip: Path, frames: int, folder: Path) -> Path:
    """The first `frames` frames of `clip` as an H.264 file in `folder` (as the clip is when it
    is no longer than that: a link)."""
    from labelme_sam2.video.probe import probe_video

    link = folder / clip.name
    if probe_video(clip).frame_count <= frames:
        link.symlink_to(clip.resolve())
        return link
    import av

    with av.open(str(clip)) as source, av.open(str(link), "w") as target:
        stream = source.streams.video[0]
        out = target.add_stream("libx264", rate=stream.average_rate)
        out.width, out.height, out.pix_fmt = stream.width, stream.height, "yuv420p"
        for i, frame in enumerate(source.decode(stream)):
            if i == frames:
                break
            for packet in out.encode(frame.reformat(format="yuv420p")):
                target.mux(packet)
        for packet in out.encode():
            target.mux(packet)
    return link


def run_case(case: Case, folder: Path, *, profile_lines: int = 0) -> Measured:
    """One `track` of the case's clip in `folder`, timed (and profiled when asked)."""
    from labelme_sam2.cli.console import progress_bar, warn

    video = cut(case.clip.path, case.clip.frames, folder)
    prompts = folder / f"{video.stem}_prompts"
    boxes = object_boxes(case.objects)
    write_prompts(prompts, boxes)
    tracker = StandInTracker(case.model_fps, boxes)
    model = LoadedModel(
        tracker=tracker, label="stand-in", version="stand-in", device="cpu", identity="stand-in"
    )
    outputs = output_options(case.outputs)
    profiler = cProfile.Profile() if profile_lines else None
    cpu_started = cpu_seconds()
    started = time.perf_counter()
    with progress_bar("tracking") as on_progress, contextlib.ExitStack() as stack:
        if profiler is not None:
            profiler.enable()
            stack.callback(profiler.disable)
        track(
            video, prompts=prompts, model=model, outputs=outputs, on_progress=on_progress, warn=warn
        )
    wall = time.perf_counter() - started
    cpu = cpu_seconds() - cpu_started
    if profiler is not None:
        print_profile(profiler, profile_lines)
    return Measured(tracker.frames, tracker.model_seconds, tracker.decode_seconds, wall, cpu)


def cpu_seconds() -> float:
    """User + system time of this process and of its finished children (the H.264 encoder)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def print_profile(profiler: cProfile.Profile, lines: int) -> None:
    for order in ("cumulative", "tottime"):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).strip_dirs().sort_stats(order).print_stats(lines)
        print(text.getvalue(), file=sys.stderr)


def find_clips(videos: Path, names: Sequence[str] | None, frames: int) -> list[Clip]:
    """The named clips (default: every clip of 1280x720 in `videos`), each of at most
    `frames`; the prompts are drawn for 1280x720, so a named clip of another size is refused."""
    from labelme_sam2.video.probe import probe_video

    paths = [videos / name for name in names] if names else sorted(videos.glob("*.mp4"))
    clips = []
    for path in paths:
        if not path.is_file():
            sys.exit(f"{path}: no such clip")
        info = probe_video(path)
        if (info.width, info.height) == SIZE:
            clips.append(Clip(path, min(frames, info.frame_count)))
        elif names:
            sys.exit(f"{path}: {info.width}x{info.height}, not {SIZE[0]}x{SIZE[1]}")
    if not clips:
        sys.exit(f"no {SIZE[0]}x{SIZE[1]} clips in {videos}")
    return clips


def row(case: Case, measured: Measured) -> str:
    ratio = measured.end_to_end_fps / measured.model_fps
    return (
        f"| {case.clip.path.name} | {case.objects} | {OUTPUT_NAMES[case.outputs]} "
        f"| {case.model_fps:g} | {measured.model_fps:.1f} | {measured.end_to_end_fps:.1f} "
        f"| {ratio:.2f} | {measured.wall_seconds:.1f} | {measured.cpu_seconds:.1f} "
        f"| {measured.decode_seconds:.1f} |"
    )


def warm_up(clip: Clip) -> None:
    """One short run first, so the imports and first-call costs land in no row."""
    with tempfile.TemporaryDirectory() as temp:
        run_case(Case(Clip(clip.path, 8), 1, "masked", 1000.0), Path(temp))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=Path, default=VIDEOS, help=f"default: {VIDEOS}")
    parser.add_argument("--clips", nargs="+", default=None, help="file names in --videos")
    parser.add_argument("--objects", nargs="+", type=int, default=[1, 3], choices=[1, 2, 3, 4])
    parser.add_argument(
        "--outputs", nargs="+", default=["labelme", "masked"], choices=list(OUTPUTS)
    )
    parser.add_argument("--model-fps", nargs="+", type=float, default=[64.0, 1000.0])
    parser.add_argument("--frames", type=int, default=300, help="at most this many per clip")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 30 frames of one clip")
    parser.add_argument("--profile", type=int, default=0, metavar="LINES")
    args = parser.parse_args(argv)
    if args.quick:
        args.clips, args.frames, args.model_fps = args.clips or ["02_cups.mp4"], 30, [1000.0]
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    import labelme_sam2

    print(f"labelme_sam2 from {Path(labelme_sam2.__file__).parent}", file=sys.stderr)
    clips = find_clips(args.videos, args.clips, args.frames)
    cases = [
        Case(clip, objects, outputs, fps)
        for clip in clips
        for objects in args.objects
        for outputs in args.outputs
        for fps in args.model_fps
    ]
    warm_up(clips[0])
    print(
        "| clip | objects | outputs | model fps asked | model-only fps | end-to-end fps "
        "| ratio | wall s | CPU s | decode s |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    )
    for case in cases:
        with tempfile.TemporaryDirectory() as temp:
            measured = run_case(case, Path(temp), profile_lines=args.profile)
        print(row(case, measured), flush=True)


if __name__ == "__main__":
    main()
