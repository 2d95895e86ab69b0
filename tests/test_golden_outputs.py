"""Every output of the README's commands, hashed: the library-API rework (issue 13) must not
change one byte of what users get.

The expectation (tests/golden/outputs.json) was made before that rework, with the scripted
tracker standing in for SAM 2 (random weights are not the same on every CPU). Regenerate it
only for an intended change of output: LABELME_SAM2_UPDATE_GOLDEN=1 pytest this file.

What is hashed is what readers get, not how it is compressed (issue 15: faster encoders):
PNG bytes may change with the encoder, the pixels may not, so a PNG is hashed as its decoded
image (mode, size, palette, pixels), and so is the PNG inside a LabelMe `mask` shape (the rest
of the LabelMe file byte for byte); a mask-store file (.labelme-sam2/masks/*.bin) is hashed
as its header line and its decompressed mask bits, whatever the zlib level. An mp4 is hashed
as what its encoder was given (every frame's pixels, exactly) and its stream (codec, pixel
format, size, frame count, rate), and it must decode to those frames within H.264's loss:
x264's bytes differ between CPUs (veryfast's did between two VMs of this project), so a
byte hash of a video tested the machine, not us. Every other file is hashed byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import shutil
import zlib
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from labelme_sam2.cli.main import main
from labelme_sam2.writers.h264_file import H264File
from tests.conftest import REPO, SHARED_BEDROOM, copy_bedroom
from tests.scripted_tracker import use_scripted_model

GOLDEN = Path(__file__).parent / "golden" / "outputs.json"
SHARED_VIDEO = REPO.parent / "shared" / "data" / "videos" / "02_hummingbird.mp4"

COMMANDS = [
    # scripts/demo.sh, on 12 frames
    ["track", "{bedroom}", "--video", "overlay", "--previews", "--contact-sheet",
     "--export", "png,davis,coco"],
    ["render", "{bedroom}", "--video", "masked", "--fill", "blur", "--side-by-side"],
    ["strobe", "{bedroom}", "--frames", "0,4,8", "--highlight", "10:orange"],
    ["track", "{bedroom}", "--export", "davis"],  # a re-run: everything kept from the store
    # the other shape format and the other outputs
    ["track", "{masks}", "--as", "mask", "--export", "yolo", "--save-masks", "--video",
     "masked", "--fill", "avg", "--contact-sheet", "3"],
    ["render", "{masks}", "--video", "masked", "--fill", "pixelate", "--video", "overlay"],
    ["strobe", "{masks}", "--frames", "1,5", "--background", "plate", "--out",
     "{masks}_plate.png"],
]  # fmt: skip


MIN_PSNR_DB = 32.0  # a decoded frame against the one encoded (CRF 18 gives about 40)


class EncodedFrames:
    """Every frame each video's encoder was given, by the video's path (its last writing)."""

    def __init__(self) -> None:
        self.frames: dict[Path, list[np.ndarray]] = {}

    def recording(self, add: Callable[[H264File, np.ndarray], None]) -> Callable[..., None]:
        def recording_add(video: H264File, rgb: np.ndarray) -> None:
            if video.frames_written == 0:  # a new writing of this path
                self.frames[video.path] = []
            self.frames[video.path].append(rgb.copy())
            add(video, rgb)

        return recording_add


def tree_hashes(root: Path, videos: EncodedFrames) -> dict[str, str]:
    """sha256 of what every file below `root` holds (with `root` itself named ROOT, as
    extract's manifest names its source), but the run record: it holds modification times."""
    return {
        str(path.relative_to(root)): hashlib.sha256(
            content(path, videos).replace(str(root).encode(), b"ROOT")
        ).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != "run.json"
    }


def content(path: Path, videos: EncodedFrames) -> bytes:
    """The file's bytes, but for what an encoder may compress differently: its decoded
    pixels (PNG), bits (mask store) or encoder input (mp4)."""
    if path.suffix == ".mp4":
        return video_content(path, videos.frames[path])
    data = path.read_bytes()
    if path.suffix == ".png":
        return decoded_png(data)
    if path.suffix == ".bin" and path.parent.parent.name == ".labelme-sam2":
        header, _, packed = data.partition(b"\n")
        return header + b"\n" + zlib.decompress(packed)
    if path.suffix == ".json":
        return MASK_SHAPE_PNG.sub(lambda m: b'"mask": "' + decoded_mask_shape(m[1]) + b'"', data)
    return data


MASK_SHAPE_PNG = re.compile(rb'"mask": "([A-Za-z0-9+/=]+)"')


def decoded_png(data: bytes) -> bytes:
    """Mode, size, palette (mode P) and pixels: what a PNG reader gets."""
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        palette = bytes(image.getpalette() or []) if image.mode == "P" else b""
        size = f"{image.mode} {image.width}x{image.height} ".encode()
        return size + palette + image.tobytes()


def video_content(path: Path, encoded: list[np.ndarray]) -> bytes:
    """The stream's description and the encoded frames' pixels, once the video is checked to
    decode to those frames."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        decoded = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        described = (
            f"{stream.codec_context.name} {stream.codec_context.pix_fmt} "
            f"{stream.codec_context.width}x{stream.codec_context.height} "
            f"{len(decoded)} frames at {stream.average_rate} "
        ).encode()
    assert len(decoded) == len(encoded), path
    for index, (got, given) in enumerate(zip(decoded, encoded, strict=True)):
        height, width = given.shape[:2]  # odd sides are padded to even ones
        error = np.mean((got[:height, :width].astype(np.float64) - given) ** 2)
        psnr = 10 * np.log10(255**2 / max(error, 1e-10))
        assert psnr >= MIN_PSNR_DB, f"{path.name} frame {index}: {psnr:.1f} dB"
    return described + b"".join(
        f"{frame.shape}".encode() + np.ascontiguousarray(frame).tobytes() for frame in encoded
    )


def decoded_mask_shape(mask: bytes) -> bytes:
    return hashlib.sha256(decoded_png(base64.b64decode(mask))).hexdigest().encode()


def printed(text: str, root: Path) -> list[str]:
    """What the commands printed, without timings and the temporary folder's name."""
    text = text.replace(str(root), "ROOT")
    return re.sub(r"in \d+\.\d s \([\d.]+ frames/s\)", "in T", text).splitlines()


def run_readme_commands(root: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> dict:
    bedroom = copy_bedroom(root, frames=12)
    masks = shutil.copytree(bedroom, root / "masks")
    use_scripted_model(monkeypatch)
    videos = EncodedFrames()
    monkeypatch.setattr(H264File, "add", videos.recording(H264File.add))
    for command in COMMANDS:
        args = [arg.format(bedroom=bedroom, masks=masks) for arg in command]
        assert main(args) == 0, args
    outputs: dict = {"printed": printed(capsys.readouterr().out, root)}
    if SHARED_VIDEO.is_file():
        video = root / "video" / SHARED_VIDEO.name
        video.parent.mkdir()
        shutil.copyfile(SHARED_VIDEO, video)
        assert main(["extract", str(video), "--end", "1", "--every", "3", "--chunk-seconds",
                     "0.5", "--quality", "90"]) == 0  # fmt: skip
        assert main(["track", str(root / "video" / "02_hummingbird"), "--export", "coco"]) == 2
        video.unlink()
    outputs["files"] = tree_hashes(root, videos)
    return outputs


def test_readme_commands_write_the_same_bytes(tmp_path: Path, monkeypatch, capsys):
    got = run_readme_commands(tmp_path, monkeypatch, capsys)
    if os.environ.get("LABELME_SAM2_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    expected = json.loads(GOLDEN.read_text())
    if not SHARED_VIDEO.is_file():
        expected["files"] = {k: v for k, v in expected["files"].items() if "video/" not in k}
    if not SHARED_BEDROOM.is_dir():  # examples/bedroom: the same frames, no 00060.json beside
        expected["files"] = {
            k: v for k, v in expected["files"].items() if not k.endswith("/00060.json")
        }
    assert got["printed"] == expected["printed"]
    assert sorted(got["files"]) == sorted(expected["files"])
    changed = [name for name, digest in got["files"].items() if expected["files"][name] != digest]
    assert changed == []
