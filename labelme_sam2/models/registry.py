"""Known SAM 2.1 and 2.0 checkpoints, and how a run picks its config and weights file.

Sizes and sha256 sums are Meta's published files (the same values as the Hugging Face LFS
objects facebook/sam2.1-hiera-*); `labelme-sam2 download` verifies both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from labelme_sam2.errors import CheckpointError, UserError

RANDOM_WEIGHTS = "random"
ALLOW_RANDOM_WEIGHTS_ENV = "LABELME_SAM2_ALLOW_RANDOM_WEIGHTS"
CHECKPOINTS_DIR_ENV = "LABELME_SAM2_CHECKPOINTS"
DEFAULT_MODEL = "sam2.1_hiera_base_plus"

_BASE_2_1 = "https://dl.fbaipublicfiles.com/segment_anything_2/092824"
_BASE_2_0 = "https://dl.fbaipublicfiles.com/segment_anything_2/072824"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    config: str  # the sam2 package's hydra config name
    filename: str
    url: str
    sha256: str
    size: int


def _spec(version: str, size_name: str, cfg: str, size: int, sha256: str) -> ModelSpec:
    name = f"{version}_hiera_{size_name}"
    base = _BASE_2_1 if version == "sam2.1" else _BASE_2_0
    return ModelSpec(
        name=name,
        config=f"configs/{version}/{version}_hiera_{cfg}.yaml",
        filename=f"{name}.pt",
        url=f"{base}/{name}.pt",
        sha256=sha256,
        size=size,
    )


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        _spec("sam2.1", "tiny", "t", 156008466,
              "7402e0d864fa82708a20fbd15bc84245c2f26dff0eb43a4b5b93452deb34be69"),
        _spec("sam2.1", "small", "s", 184416285,
              "6d1aa6f30de5c92224f8172114de081d104bbd23dd9dc5c58996f0cad5dc4d38"),
        _spec("sam2.1", "base_plus", "b+", 323606802,
              "a2345aede8715ab1d5d31b4a509fb160c5a4af1970f199d9054ccfb746c004c5"),
        _spec("sam2.1", "large", "l", 898083611,
              "2647878d5dfa5098f2f8649825738a9345572bae2d4350a2468587ece47dd318"),
        _spec("sam2", "tiny", "t", 155906050,
              "65b50056e05bcb13694174f51bb6da89c894b57b75ccdf0ba6352c597c5d1125"),
        _spec("sam2", "small", "s", 184309650,
              "95949964d4e548409021d47b22712d5f1abf2564cc0c3c765ba599a24ac7dce3"),
        _spec("sam2", "base_plus", "b+", 323493298,
              "d0bb7f236400a49669ffdd1be617959a8b1d1065081789d7bbff88eded3a8071"),
        _spec("sam2", "large", "l", 897952466,
              "7442e4e9b732a508f80e141e7c2913437a3610ee0c77381a66658c3a445df87b"),
    )
}  # fmt: skip


def default_checkpoints_dir() -> Path:
    return Path(os.environ.get(CHECKPOINTS_DIR_ENV) or "checkpoints")


def model_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise UserError("--model", f"unknown model {name!r}; known: {', '.join(MODELS)}") from None


def check_image_size(image_size: int | None) -> None:
    """SAM 2's backbone needs sides divisible by 32; smaller sizes run faster, worse."""
    if image_size is not None and (image_size <= 0 or image_size % 32):
        raise UserError("--image-size", f"{image_size} is not a positive multiple of 32")


@dataclass(frozen=True)
class ModelChoice:
    """What the tracker builds: a config, and a weights file or None for random weights."""

    config: str
    checkpoint: Path | None
    label: str  # for messages: the model name or the file

    @property
    def random_weights(self) -> bool:
        return self.checkpoint is None


def choose_model(*, model: str, checkpoint: str | None, checkpoints_dir: Path) -> ModelChoice:
    """Resolve --model/--checkpoint to a file that exists and has the size it should."""
    spec = model_spec(model)
    if checkpoint == RANDOM_WEIGHTS:
        if os.environ.get(ALLOW_RANDOM_WEIGHTS_ENV) != "1":
            raise UserError(
                "--checkpoint random",
                f"random weights give meaningless masks and exist for tests only; "
                f"set {ALLOW_RANDOM_WEIGHTS_ENV}=1 to allow them",
            )
        return ModelChoice(config=spec.config, checkpoint=None, label=f"{spec.name} (random)")
    if checkpoint is None:
        path = checkpoints_dir / spec.filename
    else:
        path = Path(checkpoint)
        # A file with a registry name brings its own config: --checkpoint sam2.1_hiera_tiny.pt
        # needs no --model.
        spec = next((s for s in MODELS.values() if s.filename == path.name), spec)
    if not path.is_file():
        raise CheckpointError(
            path,
            f"checkpoint not found; get it with `labelme-sam2 download {spec.name}` "
            f"(or checkpoints/download.sh {spec.name}), or pass --checkpoint PATH",
        )
    if path.name == spec.filename and path.stat().st_size != spec.size:
        raise CheckpointError(
            path,
            f"checkpoint is {path.stat().st_size} bytes, expected {spec.size}: truncated or "
            f"another file; run `labelme-sam2 download {spec.name}` again",
        )
    return ModelChoice(config=spec.config, checkpoint=path, label=spec.name)
