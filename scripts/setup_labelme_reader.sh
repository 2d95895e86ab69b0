#!/usr/bin/env bash
# Creates .venv-labelme312: Python 3.12 with labelme 7.9.1 (which needs >= 3.12) and
# labelme-sam2 without torch or SAM 2, for two kinds of tests: reading our JSON with labelme's
# own reader, and the LabelMe app (labelme_sam2.app, tests/app) under offscreen Qt with
# pytest-qt. The app drives .venv's labelme-sam2 command for tracking, as a user's GUI-only
# environment drives another environment's.
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
"$venv/bin/python" -m pip install -q labelme==7.9.1 "pytest>=8" "pytest-qt>=4.4" \
  "pytest-timeout>=2.3"
# Our package and its dependencies but torch and sam2, which must stay out of this environment.
"$venv/bin/python" - <<'PY' > "$venv/light-requirements.txt"
import tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
print("\n".join(d for d in deps if not d.startswith(("torch", "sam2"))))
PY
"$venv/bin/python" -m pip install -q -r "$venv/light-requirements.txt"
"$venv/bin/python" -m pip install -q --no-deps -e .
rm -f "$venv"/.installed-*
touch "$stamp"
