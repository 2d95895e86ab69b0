#!/usr/bin/env bash
# The test command: sets everything up on a fresh machine (our .venv, labelme 7.9.1 for the
# reader check and the LabelMe app, a real Label Studio 1.23.2 for the backend tests), then
# lint, types and tests. Extra arguments go to the first pytest (e.g. scripts/test.sh -k
# labelme -x); the app's tests (tests/app) then run whole.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/setup_labelme_reader.sh
bash scripts/setup_label_studio.sh
bash scripts/setup_redis.sh

.venv/bin/ruff check labelme_sam2 ls_backend tests bench
.venv/bin/ruff format --check labelme_sam2 ls_backend tests bench
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
# The LabelMe app's tests, in the app's own environment: Python 3.12, labelme 7.9.1, PySide6,
# no torch (its tracking runs .venv's labelme-sam2); Qt offscreen, no display needed.
QT_QPA_PLATFORM=offscreen .venv-labelme312/bin/python -m pytest tests/app
