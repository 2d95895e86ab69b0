"""The clicked-image feature cache: a second click on an image skips SAM 2's encoder and gets
the same mask as without the cache; entries leave least recently used first, by bytes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from labelme_sam2.core.frames import frames_from_paths
from labelme_sam2.core.pipeline import propagate
from labelme_sam2.core.prompts import Click, ObjectKey, PromptSet
from labelme_sam2.sam2_tracker.feature_cache import (
    FeatureKey,
    ImageFeatureCache,
    image_key,
    tensor_bytes,
)
from labelme_sam2.sam2_tracker.tracker import Sam2Tracker
from tests.conftest import copy_bedroom
from tests.ls_helpers import CollectMasks


class CountingCache(ImageFeatureCache):
    """The cache, counting the look-ups that found features (hits) and those that did not."""

    def __init__(self, *, max_bytes: int) -> None:
        super().__init__(max_bytes=max_bytes)
        self.hits = 0
        self.misses = 0

    def get(self, key: FeatureKey) -> Any | None:
        features = super().get(key)
        if features is None:
            self.misses += 1
        else:
            self.hits += 1
        return features


def test_entries_leave_least_recently_used_first_by_bytes(tmp_path: Path) -> None:
    one_kib = (torch.zeros(128, dtype=torch.float32), {"fpn": [torch.zeros(128)]})
    assert tensor_bytes(one_kib) == 1024
    cache = ImageFeatureCache(max_bytes=2048)
    keys = [(f"/img{i}.jpg", 1, 1, 256) for i in range(3)]
    cache.put(keys[0], one_kib)
    cache.put(keys[1], one_kib)
    assert cache.get(keys[0]) is one_kib  # now the most recent
    cache.put(keys[2], one_kib)  # 3 KiB > 2 KiB: keys[1] goes
    assert cache.get(keys[1]) is None and cache.get(keys[0]) is not None
    assert len(cache) == 2 and cache.bytes == 2048
    cache.put(("/big.jpg", 1, 1, 256), (torch.zeros(1024),))  # bigger than the cache: not kept
    assert len(cache) == 2
    image = tmp_path / "a.jpg"
    image.write_bytes(b"1")
    before = image_key(image, 256)
    os.utime(image, ns=(1, 1))
    assert image_key(image, 256) != before  # a changed file is another entry


@pytest.mark.sam2
def test_a_second_click_on_an_image_reuses_its_features_and_gives_the_same_mask(
    tmp_path: Path, tiny_sam2: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = copy_bedroom(tmp_path / "img", frames=1)
    frames = frames_from_paths(folder, sorted(folder.glob("*.jpg")))
    cache = CountingCache(max_bytes=512 * 2**20)
    cached_tracker = Sam2Tracker(tiny_sam2, feature_cache=cache)
    plain_tracker = Sam2Tracker(tiny_sam2)

    def click(tracker: Sam2Tracker, x: float) -> np.ndarray:
        prompts = PromptSet()
        key = ObjectKey("car", None)
        prompts.prompt_for(key, 0, source="test").clicks.append(Click(x, 100.0, True))
        collect = CollectMasks()
        propagate(frames, prompts, tracker=tracker, writers=[collect])
        return collect.masks[0][key]

    encoded: list[int] = []
    encode = tiny_sam2.forward_image
    monkeypatch.setattr(
        tiny_sam2, "forward_image", lambda image: encoded.append(1) or encode(image)
    )
    first = click(cached_tracker, 200.0)
    assert (cache.hits, cache.misses, len(cache), len(encoded)) == (0, 1, 1, 1)
    second = click(cached_tracker, 400.0)
    assert (cache.hits, cache.misses, len(encoded)) == (1, 1, 1)  # the encoder did not run
    assert np.array_equal(first, click(plain_tracker, 200.0))
    assert np.array_equal(second, click(plain_tracker, 400.0))
