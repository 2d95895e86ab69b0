"""--compile (ModelOptions.compile): sam2's torch.compile'd video model where it can run, one
warning and the usual model where it cannot, the same masks either way."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from labelme_sam2.cli.main import main
from labelme_sam2.cli.model_flags import add_model_arguments, model_options
from labelme_sam2.labelme_adapter.chunk import read_folder
from labelme_sam2.models.registry import choose_model
from labelme_sam2.sam2_tracker import model
from labelme_sam2.sam2_tracker.device import select_device
from labelme_sam2.sam2_tracker.model import build_sam2, compile_unavailable
from labelme_sam2.sam2_tracker.tracker import Sam2Tracker
from tests.conftest import REPO, copy_bedroom


def test_the_flag_sets_the_option_and_it_is_off_by_default() -> None:
    parser = argparse.ArgumentParser()
    add_model_arguments(parser, environ={})
    assert model_options(parser.parse_args([])).compile is False
    assert model_options(parser.parse_args(["--compile"])).compile is True


def test_compile_needs_cuda_triton_and_a_c_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    assert compile_unavailable(torch.device("cpu")) == "needs a CUDA GPU, not cpu"
    assert compile_unavailable(torch.device("mps")) == "needs a CUDA GPU, not mps"
    cuda = torch.device("cuda")  # only its type is read: no GPU needed
    installed: set[str] = set()
    monkeypatch.setattr(model.importlib.util, "find_spec", lambda name: name in installed or None)
    compilers: dict[str, str] = {}
    monkeypatch.setattr(model.shutil, "which", compilers.get)
    monkeypatch.delenv("CC", raising=False)
    assert compile_unavailable(cuda) == "needs triton, which is not installed"
    installed.add("triton")
    assert compile_unavailable(cuda) == (
        "needs a C compiler for triton (gcc, clang or $CC), none found"
    )
    compilers["gcc"] = "/usr/bin/gcc"
    assert compile_unavailable(cuda) is None


def labelme_files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.json"))}


@pytest.mark.sam2
def test_compile_on_cpu_warns_once_and_writes_the_same_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABELME_SAM2_ALLOW_RANDOM_WEIGHTS", "1")
    outputs = {}
    for name, extra in (("plain", []), ("compile", ["--compile"])):
        folder = copy_bedroom(tmp_path / name, frames=4)
        flags = ["--checkpoint", "random", "--model", "sam2.1_hiera_tiny", "--device", "cpu"]
        code = main(["track", str(folder), *flags, "--image-size", "256", *extra])
        assert code == 0
        warnings = [line for line in capsys.readouterr().err.splitlines() if "--compile" in line]
        outputs[name] = labelme_files(folder)
        assert warnings == (
            []
            if name == "plain"
            else [
                "labelme-sam2: warning: --compile needs a CUDA GPU, not cpu: "
                "running without torch.compile"
            ]
        )
    assert outputs["compile"] == outputs["plain"]


@pytest.mark.sam2
def test_our_tracker_drives_sams_compiled_model_to_the_same_masks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_sam2: Any
) -> None:
    """sam2's vos_optimized model (SAM2VideoPredictorVOS) run eagerly: the calls our tracker
    makes reach its overrides, and the masks are the plain model's (tiny_sam2, built alike).
    Compiling itself runs on the GPU machine only (bench/gpu_speed.py): on 2 CPU cores it
    took 11 minutes, and gave the same masks but for 1 pixel."""
    monkeypatch.setenv("LABELME_SAM2_ALLOW_RANDOM_WEIGHTS", "1")
    choice = choose_model(model="sam2.1_hiera_tiny", checkpoint="random", checkpoints_dir=REPO)
    vos_model = build_sam2(choice, device=select_device("cpu"), image_size=256, compile=True)
    assert type(vos_model).__name__ == "SAM2VideoPredictorVOS"
    labelme = read_folder(copy_bedroom(tmp_path, frames=3), warn=lambda _: None)
    masks: dict[str, list[dict[Any, np.ndarray]]] = {}
    for name, sam2_model in (("plain", tiny_sam2), ("vos", vos_model)):
        with torch.compiler.set_stance("force_eager"):  # the compiled calls, uncompiled
            results = Sam2Tracker(sam2_model).track(labelme.frames, labelme.prompts)
            masks[name] = [result.masks for result in results]
    assert len(masks["vos"]) == 3
    for plain, vos in zip(masks["plain"], masks["vos"], strict=True):
        assert plain.keys() == vos.keys()
        for key in plain:
            assert np.array_equal(plain[key], vos[key])
