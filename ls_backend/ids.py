"""Ids that come from requests: task and project numbers."""

from __future__ import annotations

import re

# ASCII digits, as many as a 64-bit id has. str.isdigit() also takes "²" and other Unicode
# digits, which int() then refuses (a 500), and int() refuses more than 4300 digits.
_ID = re.compile(r"[0-9]{1,18}")


def is_id(text: str) -> bool:
    """Whether `text` is a Label Studio id (a task or project number)."""
    return _ID.fullmatch(text) is not None
