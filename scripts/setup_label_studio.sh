#!/usr/bin/env bash
# Creates .venv-label-studio: Python 3.11 with label-studio 1.23.2, a real Label Studio that the
# ML backend tests (tests/label_studio_server.py) start on loopback. Kept apart from .venv because
# label-studio pins its own Django, requests and numpy stacks. Safe to re-run: it does nothing when
# this script is unchanged since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-label-studio
stamp="$venv/.installed-$(sha256sum < scripts/setup_label_studio.sh | cut -c1-16)"
[ -f "$stamp" ] && exit 0

python=""
for candidate in python3.11 "$(pyenv root 2>/dev/null)"/versions/3.11*/bin/python3; do
  if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then
    python=$candidate
    break
  fi
done
[ -n "$python" ] || { echo "setup: label-studio 1.23.2 is tested here with Python 3.11; none found" >&2; exit 1; }

echo "setup: creating $venv with $("$python" --version) and label-studio 1.23.2 (about 2 min)" >&2
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q label-studio==1.23.2
rm -f "$venv"/.installed-*
touch "$stamp"
