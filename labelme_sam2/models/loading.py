"""ModelOptions -> one loaded SAM 2 tracker, ready to track any number of videos."""

from __future__ import annotations

from dataclasses import dataclass

from labelme_sam2.core.tracking import Tracker
from labelme_sam2.errors import Warn, log_warning
from labelme_sam2.models.registry import ModelChoice
from labelme_sam2.options import ModelOptions


@dataclass(frozen=True)
class LoadedModel:
    tracker: Tracker
    label: str  # for messages: the model name, or the weights file
    version: str  # the short name Label Studio sees, e.g. sam2.1_hiera_tiny@1024
    device: str  # cuda, mps or cpu
    # The weights file as it is now, the image size and the device: another identity, other
    # masks, so a re-run with another one recomputes everything (labelme_sam2/reruns.py).
    identity: str

    def gpu_bytes(self) -> int:
        """GPU memory torch holds now (0 off CUDA)."""
        from labelme_sam2.sam2_tracker.device import gpu_bytes_allocated

        return gpu_bytes_allocated(self.device)


def load_model(
    options: ModelOptions,
    *,
    feature_cache_bytes: int = 0,
    warn: Warn = log_warning,
) -> LoadedModel:
    """Build SAM 2 on its device (seconds; the only step that imports torch).

    `feature_cache_bytes`: keep single images' features this far (a server's clicks)."""
    choice = options.choice()  # a missing checkpoint is one line, before torch is imported
    from labelme_sam2.sam2_tracker.device import select_device
    from labelme_sam2.sam2_tracker.feature_cache import ImageFeatureCache
    from labelme_sam2.sam2_tracker.model import build_sam2, compile_unavailable
    from labelme_sam2.sam2_tracker.tracker import Sam2Tracker

    device = select_device(options.device)
    if choice.random_weights:
        warn("random weights (--checkpoint random): the masks are meaningless; for tests only")
    compile_model = options.compile
    if compile_model:
        reason = compile_unavailable(device)
        if reason is not None:
            warn(f"--compile {reason}: running without torch.compile")
            compile_model = False
    sam2_model = build_sam2(
        choice, device=device, image_size=options.image_size, compile=compile_model
    )
    cache = ImageFeatureCache(max_bytes=feature_cache_bytes) if feature_cache_bytes > 0 else None
    return LoadedModel(
        tracker=Sam2Tracker(sam2_model, feature_cache=cache),
        label=choice.label,
        version=options.version,
        device=device.type,
        identity=f"{_weights_identity(choice)} @{sam2_model.image_size} {device.type}",
    )


def _weights_identity(choice: ModelChoice) -> str:
    """The model and its weights file as it is now: other weights, other masks."""
    if choice.checkpoint is None:
        return f"{choice.label} random"
    stat = choice.checkpoint.stat()
    return f"{choice.config} {choice.checkpoint.resolve()} {stat.st_size} {stat.st_mtime_ns}"
