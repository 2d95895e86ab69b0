"""probe_video and VideoFrames against a plain PyAV decode of the shared clips and made ones."""

from __future__ import annotations

import functools
import hashlib
import itertools
import random
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from labelme_sam2.errors import InputError
from labelme_sam2.video import reader
from labelme_sam2.video.probe import frame_stem, probe_video
from labelme_sam2.video.reader import VideoFrames
from tests.conftest import REPO

VIDEOS = REPO.parent / "shared" / "data" / "videos"
needs_videos = pytest.mark.skipif(
    not VIDEOS.is_dir(), reason=f"the shared clips are not there ({VIDEOS})"
)
CLIP_FRAMES = {"01_dog.mp4": 289, "02_cups.mp4": 300, "02_hummingbird.mp4": 176}


def digest(rgb: np.ndarray) -> tuple[tuple[int, ...], str, str]:
    """Shape, dtype and hash of the pixels: equal exactly when the arrays are equal."""
    return rgb.shape, str(rgb.dtype), hashlib.sha1(np.ascontiguousarray(rgb).tobytes()).hexdigest()


def compared(count: int) -> frozenset[int]:
    """The frames whose pixels the tests compare: both ends, around dog's keyframe 250, and
    every 9th (hashing all of them would double the test time)."""
    return frozenset({0, 1, count - 2, count - 1, 249, 250, 251} | set(range(0, count, 9)))


@functools.cache
def plain_decode(path: Path) -> tuple[int, tuple[float, ...], dict[int, tuple]]:
    """A straight PyAV decode: picture count, times from the first, digests of `compared`."""
    times: list[float] = []
    frames: list[av.VideoFrame] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            assert frame.pts is not None and stream.time_base is not None
            times.append(float(frame.pts * stream.time_base))
            frames.append(frame)
        wanted = compared(len(frames))
        digests = {
            i: digest(frame.to_ndarray(format="rgb24"))
            for i, frame in enumerate(frames)
            if i in wanted
        }
    return len(times), tuple(t - times[0] for t in times), digests


def make_vfr_clip(path: Path, *, width: int = 66, height: int = 50) -> list[int]:
    """30 flat grey frames (frame i has level 8*i) at irregular times; returns their pts in ms.

    66x50 is not a multiple of any row alignment, so row padding would show up too.
    """
    gaps = [20, 33, 50, 100, 40, 33, 17, 66, 25, 80] * 3
    pts_ms = [0]
    for gap in gaps[:29]:
        pts_ms.append(pts_ms[-1] + gap)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.time_base = Fraction(1, 1000)
        for i, pts in enumerate(pts_ms):
            pixels = np.full((height, width, 3), 8 * i, np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return pts_ms


def cut_copy(source: Path, destination: Path, *, keep: float) -> Path:
    data = source.read_bytes()
    destination.write_bytes(data[: int(len(data) * keep)])
    return destination


def count_seeks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The frames the reader seeks to from now on (each seek restarts decoding at a keyframe)."""
    seeks: list[int] = []
    real_seek = reader._Decoder.seek_keyframe

    def counting_seek(self: reader._Decoder, index: int) -> None:
        seeks.append(index)
        real_seek(self, index)

    monkeypatch.setattr(reader._Decoder, "seek_keyframe", counting_seek)
    return seeks


@needs_videos
@pytest.mark.parametrize("name", sorted(CLIP_FRAMES))
def test_probe_counts_and_times_match_the_container_and_a_full_decode(name: str) -> None:
    path = VIDEOS / name
    info = probe_video(path)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        declared, rate = stream.frames, stream.average_rate
    decoded, times, _ = plain_decode(path)
    assert info.frame_count == declared == decoded == CLIP_FRAMES[name]
    assert info.declared_frame_count == declared and info.problem is None
    assert (info.width, info.height) == (1280, 720)
    assert info.fps_exact == rate and info.fps == pytest.approx(float(rate))
    assert info.timestamps == pytest.approx(times, abs=1e-9)
    assert info.timestamps[0] == 0.0
    assert all(a < b for a, b in itertools.pairwise(info.timestamps))
    assert info.keyframes[0] == 0
    assert info.duration == pytest.approx(decoded / float(rate))


@needs_videos
@pytest.mark.parametrize("name", ["01_dog.mp4", "02_hummingbird.mp4"])
def test_frames_forward_backward_and_at_random_equal_a_plain_decode(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = VIDEOS / name
    count, _, expected = plain_decode(path)
    seeks = count_seeks(monkeypatch)
    with VideoFrames(path) as frames:
        assert len(frames) == count and (frames.width, frames.height) == (1280, 720)
        assert frames.stems[0] == "00000" and frames.stems[-1] == f"{count - 1:05d}"

        # SAM 2's backward pass: n-1, n-2 ... 0. Every frame must be right, and a cache-full
        # of frames must come from each seek, not one frame per seek.
        for index in reversed(range(count)):
            rgb = frames.read_rgb(index)
            if index in expected:
                assert digest(rgb) == expected[index], index
        assert len(seeks) <= count // frames.cache_capacity + 2, seeks

        for index in range(count - 60, count):  # forward again, over dog's keyframe 250
            rgb = frames.read_rgb(index)
            if index in expected:
                assert digest(rgb) == expected[index], index

        picks = random.Random(7).sample(sorted(expected), 4)
        for index in picks:
            assert digest(frames.read_rgb(index)) == expected[index], index

        rgb = frames.read_rgb(0)
        assert rgb.dtype == np.uint8 and rgb.shape == (720, 1280, 3)
        with pytest.raises(ValueError):
            rgb[0, 0, 0] = 1  # cached frames are shared, so they are read-only
        with pytest.raises(IndexError):
            frames.read_rgb(count)


def test_the_cache_stays_within_its_byte_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "vfr.mp4"
    make_vfr_clip(path)  # one keyframe: each seek decodes from frame 0
    seeks = count_seeks(monkeypatch)
    with VideoFrames(path, cache_frames=1000, cache_bytes=10 * 66 * 50 * 3) as frames:
        assert frames.cache_capacity == 10
        for index in reversed(range(30)):
            assert abs(frames.read_rgb(index).astype(float).mean() - 8 * index) < 3
    # 30 frames backward through a 10-frame cache: the first read decodes from the start, then
    # one seek per 10 frames; an unbounded cache would need none.
    assert len(seeks) == 2


@needs_videos
def test_iter_rgb_gives_each_frame_once_in_order_across_a_keyframe() -> None:
    path = VIDEOS / "01_dog.mp4"
    info = probe_video(path)
    assert 250 in info.keyframes
    _, _, expected = plain_decode(path)
    with VideoFrames(path, info=info) as frames:
        got = [(index, digest(rgb)) for index, rgb in frames.iter_rgb(244, 256)]
        assert [index for index, _ in got] == list(range(244, 256))
        assert all(found == expected[i] for i, found in got if i in expected)
        only = {245, 250, 255}
        assert [i for i, _ in frames.iter_rgb(244, 256, only=only)] == sorted(only)
        assert list(frames.iter_rgb(5, 5)) == []


def test_variable_frame_rate_timestamps_follow_the_pts(tmp_path: Path) -> None:
    path = tmp_path / "vfr.mp4"
    pts_ms = make_vfr_clip(path)
    info = probe_video(path)
    assert info.frame_count == 30
    assert info.timestamps == tuple(float(Fraction(ms, 1000)) for ms in pts_ms)
    with VideoFrames(path, info=info) as frames:
        assert (frames.width, frames.height) == (66, 50)
        for index in reversed(range(30)):
            level = frames.read_rgb(index).astype(float).mean()
            assert abs(level - 8 * index) < 3, (index, level)


def test_stems_get_more_digits_when_the_count_needs_them() -> None:
    assert frame_stem(7, 10) == "00007"
    assert frame_stem(99_999, 100_000) == "99999"
    assert frame_stem(7, 100_001) == "000007"


def one_line(error: InputError) -> str:
    text = str(error)
    assert "\n" not in text
    return text


def test_unusable_files_give_one_line_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.mp4"
    with pytest.raises(InputError) as caught:
        probe_video(missing)
    assert one_line(caught.value) == f"{missing}: no such video file"

    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n")
    with pytest.raises(InputError) as caught:
        probe_video(text)
    assert one_line(caught.value).startswith(f"{text}: not a video that can be read (")

    picture = tmp_path / "still.png"
    Image.new("RGB", (8, 8)).save(picture)
    with pytest.raises(InputError, match="a still image, not a video"):
        probe_video(picture)

    audio = tmp_path / "sound.m4a"
    with av.open(str(audio), "w") as container:
        stream = container.add_stream("aac", rate=8000)
        samples = av.AudioFrame.from_ndarray(
            np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
        )
        samples.sample_rate, samples.pts = 8000, 0
        for packet in [*stream.encode(samples), *stream.encode()]:
            container.mux(packet)
    with pytest.raises(InputError) as caught:
        probe_video(audio)
    assert one_line(caught.value) == f"{audio}: no video stream in the file"


@needs_videos
def test_a_truncated_copy_names_the_first_frame_it_cannot_give(tmp_path: Path) -> None:
    path = cut_copy(VIDEOS / "01_dog.mp4", tmp_path / "cut.mp4", keep=0.5)
    info = probe_video(path)  # the packets that are there still probe
    assert 100 < info.frame_count < 289 and info.declared_frame_count == 289
    assert info.problem is not None
    _, _, expected = plain_decode(VIDEOS / "01_dog.mp4")
    with VideoFrames(path, info=info) as frames:
        assert digest(frames.read_rgb(99)) == expected[99]
        with pytest.raises(InputError) as caught:
            frames.read_rgb(len(frames) - 1)
    message = one_line(caught.value)
    assert message.startswith(f"{path}: frame ")
    missing = int(message.removeprefix(f"{path}: frame ").split(":")[0])
    assert 100 < missing < len(frames)


@needs_videos
def test_a_copy_cut_between_packets_still_reports_the_missing_frames(tmp_path: Path) -> None:
    source = VIDEOS / "01_dog.mp4"
    with av.open(str(source)) as container:
        positions = [p.pos for p in container.demux(container.streams.video[0]) if p.size]
    path = tmp_path / "cut.mp4"
    path.write_bytes(source.read_bytes()[: positions[120]])
    info = probe_video(path)
    assert info.frame_count == 120 and info.declared_frame_count == 289
    with pytest.raises(InputError) as caught:
        info.check_complete()
    assert one_line(caught.value).startswith(f"{path}: frame 120: the file ends after 120 frames")


def test_video_frames_satisfy_the_frames_protocol(tmp_path: Path) -> None:
    from labelme_sam2.core.frames import ChunkFrames

    path = tmp_path / "vfr.mp4"
    make_vfr_clip(path)
    frames: ChunkFrames = VideoFrames(path)  # a chunk's frames: a stem each, for the outputs
    assert len(frames.stems) == len(frames) == 30
