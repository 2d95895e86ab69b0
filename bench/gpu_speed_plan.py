"""What bench/gpu_speed.py measures: the models, the ways, one measurement and its figures.
Shared by the parent (bench/gpu_speed.py), its children and its report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MODELS = {"tiny": "sam2.1_hiera_tiny", "base_plus": "sam2.1_hiera_base_plus"}
WAYS = ("stock", "tracker", "track")


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
