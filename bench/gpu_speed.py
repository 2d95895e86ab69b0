"""Stock SAM 2 against our tracker and our `track`, on one clip and one GPU, in one run.

Usage: bash bench/gpu_speed.sh              (the GPU machine: wheels, versions, this, a log)
       python bench/gpu_speed.py [--clip .gpu-clip] [--device cuda] [--image-size 1024]
           [--frames 300] [--budget-s 420] [--models tiny base_plus] [--objects 1 3]
           [--ways stock tracker track] [--compile off on] [--memory-frames 300 9000]
           [--dry-run]
CPU check of every way: .venv/bin/python bench/gpu_speed.py --clip .gpu-clip --device cpu
       --image-size 256 --quick
Prepare the clip and the wheels first: bash bench/gpu_prepare.sh (it says why it needs both).
Helper modules: bench/gpu_speed_plan.py, bench/gpu_speed_child.py, bench/gpu_speed_report.py.

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
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.gpu_speed_child import child  # noqa: E402
from bench.gpu_speed_plan import MODELS, WAYS, Figures, Measurement  # noqa: E402
from bench.gpu_speed_report import Budget, Report  # noqa: E402

MEMORY_RESERVE_S = 60.0  # kept for the memory rows: 300 frames and about 1,000 more
STOCK_BYTES_PER_FRAME = 3 * 4  # init_state's float32 RGB frames, times image_size squared


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
