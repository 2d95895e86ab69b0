#!/usr/bin/env bash
# Creates .venv with labelme-sam2, torch, SAM 2 and the dev tools. Safe to re-run: it does
# nothing when pyproject.toml and this script are unchanged since the last install.
#
# Order matters: torch first (TORCH_VERSION, default 2.13.0), then everything else with a
# constraint that keeps that torch; otherwise the sam2 source build pulls ~2.7 GB of CUDA wheels.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
torch_version=${TORCH_VERSION:-2.13.0}
python=${PYTHON:-}
if [ -z "$python" ]; then
  for candidate in python3.11 python3 python; do
    if "$candidate" -c 'import sys; assert sys.version_info >= (3, 10)' 2>/dev/null; then
      python=$candidate
      break
    fi
  done
fi
[ -n "$python" ] || { echo "setup: need Python >= 3.10 (set PYTHON=...)" >&2; exit 1; }

stamp="$venv/.installed-$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)-$torch_version"
[ -f "$stamp" ] && exit 0

echo "setup: creating $venv with $("$python" --version) and torch $torch_version" >&2
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q "torch==$torch_version"
echo "torch==$torch_version" > "$venv/constraints.txt"
PIP_CONSTRAINT="$PWD/$venv/constraints.txt" SAM2_BUILD_CUDA=0 \
  "$venv/bin/python" -m pip install -q -e ".[dev,label-studio]"
rm -f "$venv"/.installed-*
touch "$stamp"
