"""bench/gpu_speed.py's budget (what is left, guesses of what a measurement takes) and its
report (rows on stdout, the Markdown in $OUT/gpu_speed.md).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from bench.gpu_speed_plan import MODELS, Figures, Measurement

RESERVE_S = 5.0  # kept back from the budget for the closing table
# First guesses, replaced by what the run measures (seconds, frames a second on the GPU).
START_S = {"tiny": 20.0, "base_plus": 25.0}
COMPILE_START_S = 120.0  # a guess: sam2 compiles with mode="max-autotune"
FPS_GUESS = {"tiny": 15.0, "base_plus": 8.0}
RELATIVE_SPEED = {"tiny": 2.0, "base_plus": 1.0}  # tiny runs about twice as fast as base+


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
