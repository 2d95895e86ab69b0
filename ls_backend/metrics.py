"""/metrics in Prometheus' text format: jobs by state, job durations, click latency and GPU
memory. Written by hand: a few lines of text need no client library."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from ls_backend.jobs.queue import QueueStats

DURATION_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0)
CLICK_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Histogram:
    """Cumulative buckets, as Prometheus reads them."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self._counts = [0] * len(buckets)
        self._sum = 0.0
        self._count = 0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        with self._lock:
            self._sum += value
            self._count += 1
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    self._counts[i] += 1

    def lines(self, name: str) -> list[str]:
        with self._lock:
            counts, total, count = list(self._counts), self._sum, self._count
        return _histogram_lines(name, self.buckets, counts, total, count)


def histogram_of(values: Iterable[float], buckets: tuple[float, ...]) -> Histogram:
    histogram = Histogram(buckets)
    for value in values:
        histogram.observe(value)
    return histogram


def render(
    stats: QueueStats,
    *,
    model_version: str,
    clicks: Histogram,
    workers: Mapping[str, Mapping[str, object]] | None = None,
) -> str:
    lines = [
        "# HELP labelme_sam2_info The model this backend serves.",
        "# TYPE labelme_sam2_info gauge",
        f'labelme_sam2_info{{model_version="{_escape(model_version)}"}} 1',
        "# HELP labelme_sam2_jobs Jobs by state (queued = the queue's length).",
        "# TYPE labelme_sam2_jobs gauge",
    ]
    lines += [f'labelme_sam2_jobs{{state="{s}"}} {n}' for s, n in sorted(stats.counts.items())]
    lines += [
        "# HELP labelme_sam2_job_duration_seconds Run time of jobs that finished (done).",
        "# TYPE labelme_sam2_job_duration_seconds histogram",
    ]
    durations = histogram_of(stats.durations, DURATION_BUCKETS)
    lines += durations.lines("labelme_sam2_job_duration_seconds")
    lines += [
        "# HELP labelme_sam2_click_seconds Interactive predictions, answered, in seconds.",
        "# TYPE labelme_sam2_click_seconds histogram",
    ]
    lines += clicks.lines("labelme_sam2_click_seconds")
    lines += [
        "# HELP labelme_sam2_gpu_memory_bytes GPU memory allocated by torch, per worker.",
        "# TYPE labelme_sam2_gpu_memory_bytes gauge",
    ]
    lines += [
        f'labelme_sam2_gpu_memory_bytes{{worker="{_escape(w)}"}} {b}'
        for w, b in sorted(stats.gpu_memory.items())
    ]
    if workers is not None:
        lines += [
            "# HELP labelme_sam2_workers Workers heard from in the last 30 s.",
            "# TYPE labelme_sam2_workers gauge",
            f"labelme_sam2_workers {len(workers)}",
        ]
    return "\n".join(lines) + "\n"


def _histogram_lines(
    name: str, buckets: tuple[float, ...], counts: list[int], total: float, count: int
) -> list[str]:
    pairs = zip(buckets, counts, strict=True)
    lines = [f'{name}_bucket{{le="{bound:g}"}} {n}' for bound, n in pairs]
    lines.append(f'{name}_bucket{{le="+Inf"}} {count}')
    lines.append(f"{name}_sum {total:.6f}")
    lines.append(f"{name}_count {count}")
    return lines


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
