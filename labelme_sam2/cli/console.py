"""How commands talk to the user: warnings on stderr, one line each."""

from __future__ import annotations

import sys


def warn(message: str) -> None:
    print(f"labelme-sam2: warning: {message}", file=sys.stderr)
