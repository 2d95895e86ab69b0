"""What runs inside one measurement's child process of bench/gpu_speed.py: the clip and its
prompts, the stand-ins for missing video packages, building and timing one way.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable, Iterable, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.gpu_speed_plan import MODELS, Figures, Measurement

REPO = Path(__file__).resolve().parents[1]
PILLOW_BOX = [[530.0, 288.0], [682.0, 415.0]]  # the pink pillow on frame 0 of the bedroom clip
# Video packages our API imports but a frame folder never uses; too big to carry (bench/
# gpu_prepare.sh), so the GPU machine gets stand-ins that fail if anything calls them.
STAND_INS = ("av", "imageio_ffmpeg")


# ---------------------------------------------------------------------------------- the clip


def make_clip(destination: Path, source: Path, *, frames: int, objects: int) -> Path:
    """`frames` frames of `source`, back and forth (symlinks), with prompts for `objects`."""
    sources = sorted(source.glob("*.jpg"))
    if not sources:
        sys.exit(f"{source}: no JPEG frames (run bench/gpu_prepare.sh, or pass --clip)")
    cycle = sources + sources[-2:0:-1]
    destination.mkdir(parents=True)
    for i in range(frames):
        (destination / f"{i:05d}.jpg").symlink_to(cycle[i % len(cycle)].resolve())
    for name, document in prompt_files(source, objects).items():
        if int(name.split(".")[0]) < frames:
            (destination / name).write_text(json.dumps(document, indent=2))
    return destination


def prompt_files(source: Path, objects: int) -> dict[str, dict[str, Any]]:
    """The clip's LabelMe files cut to 1 object, as they are (2), or with the pillow (3)."""
    documents = {p.name: json.loads(p.read_text()) for p in sorted(source.glob("*.json"))}
    first = documents[min(documents)]
    if objects == 1:
        label = next(s["label"] for s in first["shapes"] if s["shape_type"] == "rectangle")
        for document in documents.values():
            document["shapes"] = [s for s in document["shapes"] if s["label"] == label]
        return {name: doc for name, doc in documents.items() if doc["shapes"]}
    if objects == 3:
        pillow = {"label": "pillow", "points": PILLOW_BOX, "shape_type": "rectangle"}
        first["shapes"].append({**pillow, "group_id": None, "description": "", "flags": {}})
    elif objects != 2:
        sys.exit("--objects: 1, 2 or 3 (the clip has 2 objects; 3 adds the pillow)")
    return documents


# -------------------------------------------------------------------------- one measurement


class _StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports of `roots` and their submodules succeed; anything used from them raises."""

    def __init__(self, roots: Iterable[str]) -> None:
        self._roots = set(roots)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.split(".")[0] not in self._roots:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return _StandInModule(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        pass


class _StandInModule(types.ModuleType):
    def __getattr__(self, name: str) -> type:
        if name.startswith("__"):
            raise AttributeError(name)
        qualified = f"{self.__name__}.{name}"

        def refuse(*_: object, **__: object) -> None:
            raise ModuleNotFoundError(f"{qualified}: not installed here (a bench stand-in)")

        # An exception class, so that `except av.error.FFmpegError` still compiles and runs.
        return type(name, (Exception,), {"__new__": refuse})


def install_stand_ins(*, force: bool) -> list[str]:
    """Stand-ins for the STAND_INS that are not installed (all of them with `force`)."""
    roots = [n for n in STAND_INS if force or importlib.util.find_spec(n) is None]
    if roots:
        # Last, so an installed package always wins; first when forced (the CPU check).
        sys.meta_path.insert(len(sys.meta_path) if not force else 0, _StandInFinder(roots))
    return roots


def child(spec: Measurement, args: argparse.Namespace) -> Figures:
    """Build, warm up, then time one way on `args.frames` frames of a fresh copy of the clip."""
    stand_ins = install_stand_ins(force=args.force_stand_ins) if spec.way == "track" else []
    import torch

    from labelme_sam2.sam2_tracker.device import select_device
    from labelme_sam2.sam2_tracker.model import compile_unavailable

    device = select_device(args.device)
    why_not = compile_unavailable(device) if spec.compile else None
    started = time.perf_counter()
    run_way = build_way(spec, args, device, compiled=spec.compile and why_not is None)
    build_s = time.perf_counter() - started
    warmup = args.compile_warmup_frames if spec.compile else args.warmup_frames
    with tempfile.TemporaryDirectory() as temp:
        clip, objects = Path(args.clip), spec.objects
        warm_folder = make_clip(Path(temp) / "warm", clip, frames=warmup, objects=objects)
        folder = make_clip(Path(temp) / "clip", clip, frames=args.frames, objects=objects)
        started = time.perf_counter()
        run_way(warm_folder)
        warmup_s = time.perf_counter() - started
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        frames, load_s = run_way(folder)
        if device.type == "cuda":
            torch.cuda.synchronize()
        run_s = time.perf_counter() - started
    notes = [f"not compiled: {why_not}"] if why_not else []
    notes += [f"stand-ins: {', '.join(stand_ins)}"] if stand_ins else []
    return Figures(
        frames=frames,
        build_s=build_s,
        warmup_s=warmup_s,
        run_s=run_s,
        load_s=load_s,
        gpu_peak=torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None,
        rss_peak=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        compiled=spec.compile and why_not is None,
        note="; ".join(notes),
        environment=environment(device),
    )


RunWay = Callable[[Path], tuple[int, float | None]]  # folder -> (frames with masks, load s)


def build_way(
    spec: Measurement, args: argparse.Namespace, device: Any, *, compiled: bool
) -> RunWay:
    """The model for `spec`, built once, and the function that runs the way on a folder."""
    if spec.way == "track":
        from labelme_sam2.api import ModelOptions, load_model

        options = ModelOptions(
            model=MODELS[spec.model],
            checkpoint="random",
            device=args.device,
            image_size=args.image_size,
            compile=spec.compile,
        )
        # The model's one --compile warning (if any) is what Figures.note says already.
        loaded = load_model(options, warn=lambda _: None)
        return lambda folder: (track_folder(folder, loaded), None)
    from labelme_sam2.models.registry import choose_model
    from labelme_sam2.sam2_tracker.model import build_sam2

    choice = choose_model(model=MODELS[spec.model], checkpoint="random", checkpoints_dir=REPO)
    sam2_model = build_sam2(choice, device=device, image_size=args.image_size, compile=compiled)
    if spec.way == "stock":
        return lambda folder: run_stock(sam2_model, folder)
    return lambda folder: (run_tracker(sam2_model, folder), None)


def track_folder(folder: Path, loaded: Any) -> int:
    from labelme_sam2.api import track

    result = track(folder, model=loaded, warn=lambda _: None)
    return int(result.frames_written)


def run_tracker(sam2_model: Any, folder: Path) -> int:
    from labelme_sam2.labelme_adapter.chunk import read_folder
    from labelme_sam2.sam2_tracker.tracker import Sam2Tracker

    labelme = read_folder(folder, warn=lambda _: None)
    # The masks are numpy arrays on the CPU already: consumed.
    return sum(
        bool(r.masks) for r in Sam2Tracker(sam2_model).track(labelme.frames, labelme.prompts)
    )


def run_stock(sam2_model: Any, folder: Path) -> tuple[int, float]:
    """SAM 2's own video loop, as its video notebook runs it; masks taken to the CPU."""
    from bench.stock_sam2 import add_stock_prompts
    from labelme_sam2.labelme_adapter.chunk import read_folder
    from labelme_sam2.sam2_tracker.device import inference_context

    prompts = read_folder(folder, warn=lambda _: None).prompts  # the same prompts as ours
    frames = 0
    with inference_context(sam2_model.device):
        started = time.perf_counter()
        state = sam2_model.init_state(str(folder))
        load_s = time.perf_counter() - started
        add_stock_prompts(sam2_model, state, prompts)
        for reverse in (False, True):
            for _, _, logits in sam2_model.propagate_in_video(state, reverse=reverse):
                _ = (logits > 0).cpu().numpy()
                frames += 1
    return frames, load_s


def environment(device: Any) -> dict[str, str]:
    import platform

    import torch

    found = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": str(torch.version.cuda),
        "sam2": version("sam2"),
        "host": f"{platform.node() or 'host'} ({os.cpu_count()} cores)",
    }
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        found["gpu"] = f"{properties.name} ({properties.total_memory / 2**30:.0f} GiB)"
        found["driver"] = _driver_version()
    return found


def _driver_version() -> str:
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return done.stdout.strip().splitlines()[0] if done.stdout.strip() else "?"
