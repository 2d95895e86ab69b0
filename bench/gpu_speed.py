"""Stock SAM 2 against our tracker and our `track`, on one clip and one GPU, in one run.

Usage: bash bench/gpu_speed.sh              (the GPU machine: wheels, versions, this, a log)
       python bench/gpu_speed.py [--clip .gpu-clip] [--device cuda] [--image-size 1024]
           [--frames 300] [--budget-s 420] [--models tiny base_plus] [--objects 1 3]
           [--ways stock tracker track] [--compile off on] [--memory-frames 300 9000]
           [--dry-run]
CPU check of every way: .venv/bin/python bench/gpu_speed.py --clip .gpu-clip --device cpu
       --image-size 256 --quick
Prepare the clip and the wheels first: bash bench/gpu_prepare.sh (it says why it needs both).

Each measurement is one child process, so peak GPU memory and torch.compile's state are its
own. The clip is the bedroom clip (960x540 JPEG), played back and forth to --frames, with its
LabelMe prompts, random weights (speed and memory do not depend on the weights):
- 1 object: the boy's box on frame 0 only;
- 2 objects: the clip's LabelMe files as they are (as memory_growth.py uses them);
- 3 objects: the clip's two (the boy's box; the girl's box and clicks on frame 0, a click on
  frame 60) plus a box around the pink pillow on frame 0 (PILLOW_BOX).
Ways, each consuming every frame's masks on the CPU as a user would:
- stock: sam2's init_state (every frame loaded up front) + add_new_points_or_box +
  propagate_in_video, forward then backward, as memory_growth.py's stock way;
- tracker: read_folder + Sam2Tracker(...).track(...): our tracker alone;
- track: labelme_sam2.api.track() end to end, writing the LabelMe files, on its own copy.
--compile on: sam2's vos_optimized model (torch.compile, mode max-autotune) for every way;
ModelOptions(compile=True) for `track`.
A row: frames/s of the timed run (model build and warm-up excluded; stock includes loading
the frames, as a user of it waits for that), the warm-up (with --compile: the compiling),
peak GPU memory of the timed run (torch.cuda.max_memory_allocated, reset after warm-up),
peak RSS and the child's wall time. Then bench/memory_growth.py for peak memory at 300 and
9,000 frames (our tracker, tiny, 2 objects; stock cannot hold 9,000 frames at 1024).
Measurements run most important first (STAGES), the memory rows keeping MEMORY_RESERVE_S of
--budget-s; one that would not fit, guessed from the rows measured so far, is "skipped:
budget", and each child has its own timeout, so the run always ends with what it measured.
Rows go to stdout as they come and, when $OUT is set, to $OUT/gpu_speed.md (rewritten after
each); a failed child's stderr to $OUT/gpu_speed-<row>.log.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MODELS = {"tiny": "sam2.1_hiera_tiny", "base_plus": "sam2.1_hiera_base_plus"}
WAYS = ("stock", "tracker", "track")
PILLOW_BOX = [[530.0, 288.0], [682.0, 415.0]]  # the pink pillow on frame 0 of the bedroom clip
# Video packages our API imports but a frame folder never uses; too big to carry (bench/
# gpu_prepare.sh), so the GPU machine gets stand-ins that fail if anything calls them.
STAND_INS = ("av", "imageio_ffmpeg")
RESERVE_S = 5.0  # kept back from the budget for the closing table
# First guesses, replaced by what the run measures (seconds, frames a second on the GPU).
START_S = {"tiny": 20.0, "base_plus": 25.0}
COMPILE_START_S = 120.0  # a guess: sam2 compiles with mode="max-autotune"
MEMORY_RESERVE_S = 60.0  # kept for the memory rows: 300 frames and about 1,000 more
FPS_GUESS = {"tiny": 15.0, "base_plus": 8.0}
RELATIVE_SPEED = {"tiny": 2.0, "base_plus": 1.0}  # tiny runs about twice as fast as base+
STOCK_BYTES_PER_FRAME = 3 * 4  # init_state's float32 RGB frames, times image_size squared


@dataclass(frozen=True)
class Measurement:
    model: str  # a key of MODELS
    way: str  # stock, tracker or track
    objects: int
    compile: bool

    @property
    def label(self) -> str:
        return f"{self.model}-{self.way}-{self.objects}obj{'-compile' if self.compile else ''}"


@dataclass
class Figures:
    """What a child measured (seconds, MiB)."""

    frames: int
    build_s: float
    warmup_s: float
    run_s: float
    load_s: float | None  # stock: init_state's loading of the frames, part of run_s
    gpu_peak: float | None
    rss_peak: float
    compiled: bool
    note: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    wall_s: float = 0.0  # the parent's clock: process start to end

    @property
    def fps(self) -> float:
        return self.frames / self.run_s if self.run_s > 0 else 0.0


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


# ------------------------------------------------------------------------- the parent: plan


# Most important first. Within the order (tiny, base+, compile, memory) two swaps:
# our end-to-end `track` on base+ waits until after tiny compiled (the pipeline's cost is the
# same on both models; whether --compile works with our tracker on CUDA is not known yet),
# and compiled 3 objects after it.
STAGES: tuple[tuple[str, bool, tuple[int, ...], tuple[str, ...]], ...] = (
    ("tiny", False, (1, 2, 3), WAYS),
    ("base_plus", False, (1, 2, 3), ("stock", "tracker")),
    ("tiny", True, (1,), WAYS),
    ("base_plus", False, (1, 2, 3), ("track",)),
    ("tiny", True, (2, 3), WAYS),
    ("base_plus", True, (1, 2, 3), WAYS),
)


def plan(args: argparse.Namespace) -> list[Measurement]:
    """The measurements the flags ask for, in STAGES order."""
    compiles = {c == "on" for c in args.compile}
    return [
        Measurement(model, way, objects, compiled)
        for model, compiled, stage_objects, stage_ways in STAGES
        if model in args.models and compiled in compiles
        for objects in args.objects
        if objects in stage_objects
        for way in args.ways
        if way in stage_ways
    ]


class Budget:
    """Seconds left of --budget-s, and guesses of what a measurement takes from the done ones."""

    def __init__(self, seconds: float, *, memory_s: float) -> None:
        self._ends = time.monotonic() + seconds
        self._memory_s = memory_s
        self.done: dict[Measurement, Figures] = {}

    def left(self) -> float:
        return self._ends - time.monotonic() - RESERVE_S

    def left_for_speed(self) -> float:
        """What the speed rows may use: the memory rows keep their share."""
        return self.left() - self._memory_s

    def start_s(self, spec: Measurement) -> float:
        """Process start, build and warm-up: as the closest done measurement took."""
        for same in (
            lambda m: m.model == spec.model and m.compile == spec.compile and m.way == spec.way,
            lambda m: m.model == spec.model and m.compile == spec.compile,
            lambda m: m.compile == spec.compile,
        ):
            seen = [f.wall_s - f.run_s for m, f in self.done.items() if same(m) and f.run_s]
            if seen:
                # Compiling again hits torch's caches on disk: the later ones are cheaper.
                return min(seen) if spec.compile else max(seen)
        return COMPILE_START_S if spec.compile else START_S.get(spec.model, 25.0)

    def fps(self, model: str, objects: int, way: str | None = None) -> float:
        """Frames a second, scaled from the measured rows; the slowest guess wins. Compiled
        rows count as they are: guessing them from uncompiled ones errs on the slow side."""
        guesses = [
            f.fps
            * min(1.0, m.objects / objects)  # more objects: slower; fewer: as slow, to be safe
            * RELATIVE_SPEED[model]
            / RELATIVE_SPEED[m.model]
            for m, f in self.done.items()
            if f.fps and (way is None or m.way == way)
        ]
        return min(guesses) if guesses else FPS_GUESS.get(model, 8.0)

    def predict(self, spec: Measurement, frames: int) -> float:
        return self.start_s(spec) + frames / self.fps(spec.model, spec.objects)


# ------------------------------------------------------------------------ the parent: output


class Report:
    """Rows on stdout as they come; the whole Markdown after each in $OUT/gpu_speed.md."""

    def __init__(self, args: argparse.Namespace) -> None:
        self._args = args
        self._out = Path(os.environ["OUT"]) / "gpu_speed.md" if os.environ.get("OUT") else None
        self._environment: dict[str, str] = {}
        self._speed: list[str] = []
        self._memory: list[str] = []
        self._skipped: list[str] = []

    def line(self, text: str) -> None:
        print(text, flush=True)

    def speed(self, spec: Measurement, figures: Figures | None, problem: str = "") -> None:
        if figures is not None and not self._environment:
            self._environment = figures.environment
            self.line(self.heading())
        if not self._speed:
            self.line(SPEED_HEADER)
        self._speed.append(self.speed_row(spec, figures, problem))
        self.line(self._speed[-1])
        self.save()

    def memory(self, row: str) -> None:
        if not self._memory:
            self.line(MEMORY_HEADER)
        self._memory.append(row)
        self.line(row)
        self.save()

    def skipped(self, what: str, why: str) -> None:
        self._skipped.append(f"- {what}: {why}")
        self.line(self._skipped[-1])
        self.save()

    def heading(self) -> str:
        env, args = self._environment, self._args
        return (
            f"{time.strftime('%Y-%m-%d')}: {env.get('gpu', args.device)}, driver "
            f"{env.get('driver', '-')}, {env.get('host', '?')}; Python {env.get('python', '?')}, "
            f"torch {env.get('torch', '?')}, CUDA {env.get('cuda', '?')}, "
            f"sam2 {env.get('sam2', '?')}; random weights @{args.image_size}; the bedroom clip "
            f"(960x540 JPEG) played back and forth to {args.frames} frames; warm-up "
            f"{args.warmup_frames} frames ({args.compile_warmup_frames} compiled), not timed"
        )

    def speed_row(self, spec: Measurement, figures: Figures | None, problem: str) -> str:
        model = f"{MODELS[spec.model]} @{self._args.image_size}"
        compiled = "on" if spec.compile else "off"
        if figures is not None and spec.compile and not figures.compiled:
            compiled = "fell back"
        cells = [time.strftime("%Y-%m-%d"), self.gpu(), spec.way, model, str(spec.objects)]
        cells.append(compiled)
        if figures is None:
            cells += [str(self._args.frames), "-", "-", "-", "-", "-", problem]
        else:
            notes = [f"build {figures.build_s:.1f} s"]
            if figures.load_s is not None:
                notes.append(f"init_state {figures.load_s:.1f} s")
            notes += [figures.note] if figures.note else []
            gpu = "-" if figures.gpu_peak is None else f"{figures.gpu_peak:,.0f} MiB"
            cells += [str(figures.frames), f"{figures.fps:.1f}", f"{figures.warmup_s:.1f} s", gpu]
            cells += [f"{figures.rss_peak:,.0f} MiB", f"{figures.wall_s:.0f} s", "; ".join(notes)]
        return "| " + " | ".join(cells) + " |"

    def gpu(self) -> str:
        return self._environment.get("gpu", self._args.device).split(" (")[0]

    def markdown(self) -> str:
        parts = [f"## GPU speed ({time.strftime('%Y-%m-%d')})", "", self.heading(), ""]
        parts += [SPEED_HEADER, SPEED_RULE, *self._speed, ""]
        if self._memory:
            parts += ["Peak memory (bench/memory_growth.py):", ""]
            parts += [MEMORY_HEADER, MEMORY_RULE, *self._memory, ""]
        parts += self._skipped
        return "\n".join(parts) + "\n"

    def save(self) -> None:
        if self._out is not None:
            self._out.parent.mkdir(parents=True, exist_ok=True)
            self._out.write_text(self.markdown())


SPEED_HEADER = (
    "| date | GPU | way | model | objects | compile | frames | frames/s | warm-up "
    "| peak GPU | peak RSS | wall | notes |"
)
SPEED_RULE = "| --- " * 13 + "|"
MEMORY_HEADER = "| date | machine | way | model | frames | wall | frames/s | peak RSS | peak GPU |"
MEMORY_RULE = "| --- " * 9 + "|"


# ------------------------------------------------------------------------ the parent: runs


def run_child(
    spec: Measurement, args: argparse.Namespace, timeout: float
) -> tuple[Figures | None, str]:
    """One measurement in its own process: its figures, or why there are none."""
    command = [sys.executable, __file__, "--child", json.dumps(asdict(spec)), *child_flags(args)]
    started = time.monotonic()
    code, stdout, stderr = run_process_group(command, timeout)
    if code is None:
        keep_log(spec.label, stderr)
        return None, f"timed out after {timeout:.0f} s (budget)"
    if code != 0:
        keep_log(spec.label, stderr)
        last = (stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"failed: {last[:200]}"
    figures = Figures(**json.loads(stdout.strip().splitlines()[-1]))
    figures.wall_s = time.monotonic() - started
    return figures, ""


def run_process_group(command: list[str], timeout: float) -> tuple[int | None, str, str]:
    """(exit code, stdout, stderr) of `command`; no exit code when it ran out of time.

    The child leads its own process group, and a timeout ends the whole group: torch's
    compile workers would otherwise outlive it, holding its pipes open, and the wait with them.
    """
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=max(timeout, 1.0))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            return None, stdout, stderr
    return process.returncode, stdout, stderr


def child_flags(args: argparse.Namespace) -> list[str]:
    flags = ["--clip", str(args.clip), "--device", args.device]
    flags += ["--image-size", str(args.image_size), "--frames", str(args.frames)]
    flags += ["--warmup-frames", str(args.warmup_frames)]
    flags += ["--compile-warmup-frames", str(args.compile_warmup_frames)]
    return flags + (["--force-stand-ins"] if args.force_stand_ins else [])


def keep_log(label: str, text: str) -> None:
    """A failed child's stderr, in $OUT when set, for the next try."""
    out = os.environ.get("OUT")
    if out:
        (Path(out) / f"gpu_speed-{label}.log").write_text(text)
    print(f"  {label}: stderr tail:\n" + "\n".join(text.splitlines()[-15:]), flush=True)


def run_speed(args: argparse.Namespace, budget: Budget, report: Report) -> None:
    for spec in plan(args):
        needed, left = budget.predict(spec, args.frames), budget.left_for_speed()
        if needed > left:
            report.skipped(spec.label, f"budget (needs ~{needed:.0f} s, {left:.0f} s left)")
            continue
        # A child far slower than guessed must not eat the measurements after it; how long
        # compiling takes is anyone's guess, so it gets all there is.
        limit = left if spec.compile else min(left, 2 * needed + 30)
        figures, problem = run_child(spec, args, limit)
        if figures is not None:
            budget.done[spec] = figures
        report.speed(spec, figures, problem)


def run_memory(args: argparse.Namespace, budget: Budget, report: Report) -> None:
    """bench/memory_growth.py on the clip's 2 objects, tiny: ours at each --memory-frames
    (the largest count that fits, when one does not), then stock at the smallest."""
    runs = [("ours", frames) for frames in args.memory_frames]
    runs += [("stock", min(args.memory_frames))]
    largest = max(args.memory_frames)
    stock_gib = largest * STOCK_BYTES_PER_FRAME * args.image_size**2 / 2**30
    if largest >= 1000:
        report.skipped(
            f"memory stock {largest} frames",
            f"not run: init_state would hold {stock_gib:,.0f} GiB of float32 frames on the GPU "
            "(and as much CPU memory while it loads them)",
        )
    fps = budget.fps("tiny", 2, way="tracker")
    start = budget.start_s(Measurement("tiny", "tracker", 2, False))
    for way, wanted in runs:
        frames = wanted
        if start + frames / fps > budget.left():
            frames = int((budget.left() - start) * fps * 0.8) // 1000 * 1000
            if frames < max(1000, 3 * min(args.memory_frames)):
                report.skipped(f"memory {way} {wanted} frames", "budget")
                continue
            report.skipped(f"memory {way} {wanted} frames", f"budget: {frames} frames instead")
        row = memory_row(args, way, frames, timeout=budget.left())
        if row.startswith("|"):
            report.memory(row)
        else:
            report.skipped(f"memory {way} {frames} frames", row)


def memory_row(args: argparse.Namespace, way: str, frames: int, *, timeout: float) -> str:
    """memory_growth.py's Markdown row, or why there is none."""
    command = [sys.executable, str(REPO / "bench" / "memory_growth.py"), "--clip", args.clip]
    command += ["--device", args.device, "--image-size", str(args.image_size)]
    command += ["--model", MODELS["tiny"], "--frames", str(frames), "--ways", way]
    code, stdout, stderr = run_process_group(command, timeout)
    if code is None:
        keep_log(f"memory-{way}-{frames}", stderr)
        return f"timed out after {timeout:.0f} s (budget)"
    rows = [line for line in stdout.splitlines() if line.startswith("| 2")]
    if code != 0 or not rows:
        keep_log(f"memory-{way}-{frames}", stderr)
        return "failed (see its log)"
    return rows[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clip", default=str(REPO / ".gpu-clip"), help="frames + LabelMe files")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--image-size", type=int, default=1024)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--warmup-frames", type=int, default=8)
    # Covers the keyframe on frame 60, whose prompt shape compiles once more.
    parser.add_argument("--compile-warmup-frames", type=int, default=64)
    parser.add_argument("--budget-s", type=float, default=420.0)
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--ways", nargs="+", choices=WAYS, default=list(WAYS))
    parser.add_argument("--objects", nargs="+", type=int, choices=[1, 2, 3], default=[1, 3])
    parser.add_argument("--compile", nargs="+", choices=["off", "on"], default=["off", "on"])
    parser.add_argument("--memory-frames", nargs="*", type=int, default=[300, 9000])
    parser.add_argument(
        "--quick", action="store_true", help="a check: 6 frames, memory at 6 and 12, warm-ups of 2"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan, run nothing")
    parser.add_argument("--force-stand-ins", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.clip = str(Path(args.clip).resolve())  # the children's symlinks point at it
    if args.quick:
        args.frames, args.warmup_frames, args.compile_warmup_frames = 6, 2, 3
        args.memory_frames = [6, 12]
    if args.child:
        figures = child(Measurement(**json.loads(args.child)), args)
        print(json.dumps(asdict(figures)), flush=True)
        return
    os.environ["LABELME_SAM2_ALLOW_RANDOM_WEIGHTS"] = "1"
    os.environ["PYTHONUNBUFFERED"] = "1"
    if args.dry_run:
        for spec in plan(args):
            print(spec.label)
        print(f"memory (ours, tiny, 2 objects): {args.memory_frames} frames")
        return
    memory_s = MEMORY_RESERVE_S if args.memory_frames else 0.0
    budget, report = Budget(args.budget_s, memory_s=memory_s), Report(args)
    report.line(f"gpu_speed: {len(plan(args))} speed rows, then memory; {args.budget_s:.0f} s")
    run_speed(args, budget, report)
    if args.memory_frames:
        run_memory(args, budget, report)
    report.line("\n" + report.markdown())


if __name__ == "__main__":
    main()
