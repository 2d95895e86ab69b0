#!/usr/bin/env bash
# Creates .venv-labelme312: Python 3.12 with labelme 7.9.1 (which needs >= 3.12) and our
# format layer, but no torch, so tests can read our JSON with labelme's own reader.
# labelme's reader module imports PySide6, so PySide6-Essentials (Qt core, no GUI needed) comes too.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-labelme312
stamp="$venv/.installed-$(cat pyproject.toml scripts/setup_labelme_reader.sh | sha256sum | cut -c1-16)"
[ -f "$stamp" ] && exit 0

python=""
for candidate in python3.12 python3.13 "$(pyenv root 2>/dev/null)"/versions/3.1[23]*/bin/python3; do
  if "$candidate" -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then
    python=$candidate
    break
  fi
done
[ -n "$python" ] || { echo "setup: labelme 7.9.1 needs Python >= 3.12; none found" >&2; exit 1; }

echo "setup: creating $venv with $("$python" --version) and labelme 7.9.1" >&2
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --no-deps labelme==7.9.1
"$venv/bin/python" -m pip install -q numpy pillow tifffile loguru "PySide6-Essentials>=6.8" \
  opencv-python-headless
# Our package without its dependencies: torch and sam2 must stay out of this environment.
"$venv/bin/python" -m pip install -q --no-deps -e .
rm -f "$venv"/.installed-*
touch "$stamp"
