"""SAM 2's image features of recently clicked single images, so the next click on the same
image skips the image encoder (most of a click's time). Bounded by bytes, least recently used
out first; a changed file (size or mtime) is a new entry."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

FeatureKey = tuple[str, int, int, int]  # path, size, mtime_ns, SAM 2 image size


def image_key(path: Path, image_size: int) -> FeatureKey:
    stat = path.stat()
    return (str(path.resolve()), stat.st_size, stat.st_mtime_ns, image_size)


def tensor_bytes(value: Any) -> int:
    """Bytes of every tensor in nested tuples, lists and dicts."""
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, dict):
        return sum(tensor_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(tensor_bytes(v) for v in value)
    return 0


class ImageFeatureCache:
    def __init__(self, *, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[FeatureKey, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: FeatureKey) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: FeatureKey, features: Any) -> None:
        size = tensor_bytes(features)
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (features, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._bytes -= evicted
