"""ModelOptions and OutputOptions check themselves on construction; the environment parses
into the same options; the model version needs no weights file."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelme_sam2.api import ModelOptions, OutputOptions, UserError
from labelme_sam2.render.fills import Fill


@pytest.mark.parametrize(
    ("make", "line"),
    [
        (
            lambda: ModelOptions(image_size=250),
            "--image-size: 250 is not a positive multiple of 32",
        ),
        (lambda: ModelOptions(model="sam3"), "--model: unknown model 'sam3'"),
        (lambda: ModelOptions(device="tpu"), "--device: unknown device 'tpu'"),
        (lambda: OutputOptions(layers=("cvat",)), "--export: unknown kind cvat: use png, davis"),
        (lambda: OutputOptions(videos=("gif",)), "--video: unknown kind 'gif'"),
        (lambda: OutputOptions(contact_sheet=0), "--contact-sheet: need a whole number from 1"),
        (lambda: OutputOptions(fps=0), "--fps: 0 is not a positive frame rate"),
        (lambda: OutputOptions(shapes="rle"), "--as: unknown shape format 'rle'"),
    ],
)
def test_options_refuse_bad_values_in_one_line(make, line: str):
    with pytest.raises(UserError) as error:
        make()
    assert str(error.value).startswith(line) and "\n" not in str(error.value)


def test_the_environment_parses_into_model_options(tmp_path: Path):
    options = ModelOptions.from_env(
        {
            "LABELME_SAM2_MODEL": "sam2.1_hiera_tiny",
            "LABELME_SAM2_CHECKPOINTS_DIR": str(tmp_path),
            "LABELME_SAM2_DEVICE": "cpu",
            "LABELME_SAM2_IMAGE_SIZE": "512",
        }
    )
    assert options == ModelOptions(
        model="sam2.1_hiera_tiny", checkpoints_dir=tmp_path, device="cpu", image_size=512
    )
    assert ModelOptions.from_env({}) == ModelOptions()
    with pytest.raises(UserError, match="LABELME_SAM2_IMAGE_SIZE: 'abc' is not a whole number"):
        ModelOptions.from_env({"LABELME_SAM2_IMAGE_SIZE": "abc"})
    with pytest.raises(UserError, match="LABELME_SAM2_DEVICE: unknown device 'gpu'"):
        ModelOptions.from_env({"LABELME_SAM2_DEVICE": "gpu"})


def test_the_model_version_is_known_without_the_weights_file(tmp_path: Path):
    missing = tmp_path / "nowhere"
    assert ModelOptions(checkpoints_dir=missing).version == "sam2.1_hiera_base_plus@1024"
    # A file with a registry name brings its own model, as loading it would.
    named = ModelOptions(checkpoint=str(missing / "sam2.1_hiera_tiny.pt"), image_size=512)
    assert named.version == "sam2.1_hiera_tiny@512"
    assert ModelOptions(model="sam2_hiera_large", checkpoint="random").version == (
        "sam2_hiera_large-random@1024"
    )
    with pytest.raises(UserError, match="checkpoint not found"):
        ModelOptions(checkpoints_dir=missing).choice()  # only choosing reads the disk


def test_output_options_say_whether_anything_is_asked_for():
    assert not OutputOptions().any()
    assert not OutputOptions(shapes="mask").any()  # LabelMe files only
    assert OutputOptions(videos=("masked",), fill=Fill.parse("blur")).any()
    assert OutputOptions(contact_sheet=3).any()


def test_the_environment_s_errors_name_the_variable():
    with pytest.raises(UserError, match=r"^LABELME_SAM2_MODEL: unknown model 'sam9'"):
        ModelOptions.from_env({"LABELME_SAM2_MODEL": "sam9"})
    with pytest.raises(UserError, match=r"^LABELME_SAM2_IMAGE_SIZE: 250 is not a positive"):
        ModelOptions.from_env({"LABELME_SAM2_IMAGE_SIZE": "250"})


def test_a_fill_must_be_a_fill():
    with pytest.raises(UserError, match="--fill: 'blur' is not a Fill"):
        OutputOptions(fill="blur")  # type: ignore[arg-type]
