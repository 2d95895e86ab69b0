"""Errors that reach the user as one line: the file, then what is wrong with it."""

from __future__ import annotations

from pathlib import Path


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
