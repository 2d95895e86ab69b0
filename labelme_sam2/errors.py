"""Errors (and warnings) that reach the user as one line: the file, then what is wrong."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

Warn = Callable[[str], None]  # how a warning reaches the user: one line


def log_warning(message: str) -> None:
    """The library's warnings go to the `labelme_sam2` logger; the CLI prints them instead."""
    logging.getLogger("labelme_sam2").warning(message)


class UserError(Exception):
    """Bad input or set-up that the user can fix; printed as one line, exit code 2."""

    def __init__(self, where: str | Path, problem: str) -> None:
        self.where = str(where)
        self.problem = problem
        super().__init__(f"{self.where}: {problem}")


class InputError(UserError):
    """A frame, a LabelMe file or a prompt in it is unusable."""


class CheckpointError(UserError):
    """A model checkpoint is missing, truncated or not the file it claims to be."""


class OutputError(UserError):
    """An output file cannot be written (disk full, read-only, no permission)."""
