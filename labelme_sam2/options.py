"""What the library is asked to do: which model, and which outputs. Plain typed dataclasses
that check themselves once, on construction, with the one-line errors the CLI prints.

The command line's flags (labelme_sam2/cli/) and the LABELME_SAM2_* environment variables
(servers, workers) both parse into these, with the defaults of these dataclasses.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from labelme_sam2.errors import UserError
from labelme_sam2.formats.labelme_json import ShapeFormat
from labelme_sam2.models.registry import (
    DEFAULT_MODEL,
    MODELS,
    RANDOM_WEIGHTS,
    ModelChoice,
    check_image_size,
    choose_model,
    default_checkpoints_dir,
    model_spec,
)
from labelme_sam2.render.fills import FILL_CHOICES, Fill

Device = Literal["auto", "cuda", "mps", "cpu"]
DEVICES: tuple[Device, ...] = get_args(Device)
DEFAULT_IMAGE_SIZE = 1024  # image_size in every SAM 2 config

# The environment variable of each ModelOptions field (gunicorn's web side, workers, serve).
MODEL_VARIABLES: dict[str, str] = {
    "model": "LABELME_SAM2_MODEL",
    "checkpoint": "LABELME_SAM2_CHECKPOINT",
    "checkpoints_dir": "LABELME_SAM2_CHECKPOINTS_DIR",
    "device": "LABELME_SAM2_DEVICE",
    "image_size": "LABELME_SAM2_IMAGE_SIZE",
}


@dataclass(frozen=True, kw_only=True)
class ModelOptions:
    """Which SAM 2 to load and how. Nothing is read from disk until `choice()`."""

    model: str = DEFAULT_MODEL  # a name from labelme_sam2.models.registry.MODELS
    # The weights file (default: checkpoints_dir/<model>.pt); "random" for tests only, and
    # only with LABELME_SAM2_ALLOW_RANDOM_WEIGHTS=1.
    checkpoint: str | None = None
    checkpoints_dir: Path | None = None  # default: $LABELME_SAM2_CHECKPOINTS or ./checkpoints
    device: Device = "auto"  # auto: cuda, else mps, else cpu
    image_size: int | None = None  # SAM 2's input side, a multiple of 32 (default: 1024)
    # torch.compile SAM 2's parts (sam2's vos_optimized): CUDA only, elsewhere one warning and
    # no compile. Minutes to compile on the first frames, faster frames after. No variable:
    # the flag or the API only.
    compile: bool = False

    def __post_init__(self) -> None:
        model_spec(self.model)
        if self.device not in DEVICES:
            raise UserError("--device", f"unknown device {self.device!r}; use {', '.join(DEVICES)}")
        check_image_size(self.image_size)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ModelOptions:
        """The options the LABELME_SAM2_* variables set; the defaults for the rest."""
        values = model_values_from_env(environ)
        defaults = cls()
        size = values.get("image_size")
        try:
            image_size = defaults.image_size if size is None else int(size)
        except ValueError:
            raise UserError(
                MODEL_VARIABLES["image_size"], f"{size!r} is not a whole number"
            ) from None
        device = values.get("device", defaults.device)  # checked on construction, below
        folder = values.get("checkpoints_dir")
        try:
            return cls(
                model=values.get("model", defaults.model),
                checkpoint=values.get("checkpoint", defaults.checkpoint),
                checkpoints_dir=defaults.checkpoints_dir if folder is None else Path(folder),
                device=device,  # type: ignore[arg-type]  # __post_init__ checks it
                image_size=image_size,
            )
        except UserError as error:  # name the variable, not the flag it stands for
            variables = {
                f"--{name.replace('_', '-')}": var for name, var in MODEL_VARIABLES.items()
            }
            raise UserError(variables.get(error.where, error.where), error.problem) from None

    def choice(self) -> ModelChoice:
        """The config and weights file to build: the file must exist and have its size."""
        return choose_model(
            model=self.model,
            checkpoint=self.checkpoint,
            checkpoints_dir=self.checkpoints_dir or default_checkpoints_dir(),
        )

    @property
    def version(self) -> str:
        """The short name Label Studio sees, e.g. sam2.1_hiera_tiny@1024: known without the
        weights file, so a web process that loads no model can tell it."""
        name = self.model
        if self.checkpoint == RANDOM_WEIGHTS:
            name = f"{name}-random"
        elif self.checkpoint is not None:
            # A file with a registry name brings its own config, as choose_model decides.
            filename = Path(self.checkpoint).name
            name = next((s.name for s in MODELS.values() if s.filename == filename), name)
        return f"{name}@{self.image_size or DEFAULT_IMAGE_SIZE}"


def model_values_from_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The ModelOptions fields that LABELME_SAM2_* variables set, as the strings they are."""
    return {name: environ[var] for name, var in MODEL_VARIABLES.items() if environ.get(var)}


VideoKind = Literal["masked", "overlay"]
VIDEO_KINDS: tuple[VideoKind, ...] = get_args(VideoKind)
LayerKind = Literal["png", "davis", "coco", "yolo"]
LAYER_KINDS: tuple[LayerKind, ...] = get_args(LayerKind)
SHAPE_FORMATS: tuple[ShapeFormat, ...] = get_args(ShapeFormat)
MAX_CONTACT_TILES = 100


@dataclass(frozen=True, kw_only=True)
class OutputOptions:
    """What `track` and `render` write besides the LabelMe files, beside the frame folder or
    video (FOLDER_masked.mp4, FOLDER_davis/ ...). The default writes nothing more."""

    videos: tuple[VideoKind, ...] = ()  # FOLDER_masked.mp4, FOLDER_overlay.mp4
    fill: Fill = field(default_factory=lambda: Fill("white"))  # what `masked` paints
    side_by_side: bool = False  # videos show the original frame left of the result
    fps: float | None = None  # default: the source video's or extract's, else 30
    layers: tuple[LayerKind, ...] = ()  # FOLDER_masks/, _davis/, _coco.json, _yolo/
    previews: bool = False  # FOLDER_prompts/<frame>.png for each prompted frame
    contact_sheet: int | None = None  # FOLDER_contact.png with this many frames
    shapes: ShapeFormat = "polygon"  # how `track` puts masks into the LabelMe files

    def __post_init__(self) -> None:
        if not isinstance(self.fill, Fill):
            raise UserError(
                "--fill", f"{self.fill!r} is not a Fill: use Fill.parse({FILL_CHOICES!r})"
            )
        for kind in self.videos:
            if kind not in VIDEO_KINDS:
                raise UserError("--video", f"unknown kind {kind!r}: use {', '.join(VIDEO_KINDS)}")
        check_layer_kinds(list(self.layers))
        if self.fps is not None and not self.fps > 0:
            raise UserError("--fps", f"{self.fps} is not a positive frame rate")
        if self.contact_sheet is not None and not 1 <= self.contact_sheet <= MAX_CONTACT_TILES:
            raise UserError("--contact-sheet", f"need a whole number from 1 to {MAX_CONTACT_TILES}")
        if self.shapes not in SHAPE_FORMATS:
            raise UserError("--as", f"unknown shape format {self.shapes!r}: use polygon or mask")

    def any(self) -> bool:
        """Whether anything is asked for besides the LabelMe files."""
        return bool(self.videos or self.layers or self.previews or self.contact_sheet)


def check_layer_kinds(kinds: list[str]) -> None:
    unknown = [kind for kind in kinds if kind not in LAYER_KINDS]
    if unknown:
        raise UserError(
            "--export", f"unknown kind {', '.join(unknown)}: use {', '.join(LAYER_KINDS)}"
        )
