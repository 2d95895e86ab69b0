"""Fetch a checkpoint into the checkpoints folder, verifying its size and sha256."""

from __future__ import annotations

import contextlib
import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from labelme_sam2.errors import CheckpointError
from labelme_sam2.models.registry import ModelSpec

CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def is_verified(spec: ModelSpec, path: Path) -> bool:
    return path.is_file() and path.stat().st_size == spec.size and sha256_of(path) == spec.sha256


def download(
    spec: ModelSpec,
    directory: Path,
    *,
    on_bytes: Callable[[int], None] = lambda n: None,
    timeout: float = 30.0,
) -> Path:
    """Download `spec` to directory/filename; a bad or partial download never takes its place."""
    target = directory / spec.filename
    if is_verified(spec, target):
        return target
    directory.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    received = 0
    try:
        with (
            urllib.request.urlopen(spec.url, timeout=timeout) as response,
            partial.open("wb") as out,
        ):
            while chunk := response.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                on_bytes(len(chunk))
    except (urllib.error.URLError, OSError) as error:
        partial.unlink(missing_ok=True)
        reason = getattr(error, "reason", error)
        raise CheckpointError(
            spec.url,
            f"download failed ({reason}); fetch it by other means and put it at {target}",
        ) from error
    problem = None
    if received != spec.size:
        problem = f"got {received} bytes, expected {spec.size} (truncated download?)"
    elif digest.hexdigest() != spec.sha256:
        problem = f"sha256 {digest.hexdigest()} does not match the expected {spec.sha256}"
    if problem:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise CheckpointError(spec.url, f"{problem}; nothing was saved")
    os.replace(partial, target)
    return target
