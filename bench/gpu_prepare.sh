#!/usr/bin/env bash
# Prepares bench/gpu_speed.sh for a GPU machine without internet access: run it here, on the
# dev machine, from any folder. Usage: bash bench/gpu_prepare.sh
#
# - .whl/: wheels for the GPU machine's Python 3.12 (x86_64) of what it lacks among our and
#   sam2's runtime dependencies, at the versions our .venv tests with: sam2 (built here without
#   its CUDA extension, as scripts/setup.sh does), hydra-core, omegaconf, antlr4 (hydra's
#   parser), iopath (a declared sam2 dependency), pycocotools. Not av (36 MB) nor
#   imageio-ffmpeg (68 MB): together they would not fit the 64 MiB the machine is sent, and a
#   frame folder never uses them; bench/gpu_speed_child.py stands in for them when missing.
# - .gpu-clip/: the shared bedroom clip (200 JPEG frames of 960x540, its 2 LabelMe files),
#   because shared/ does not travel to the GPU machine.
# Both are git-ignored (.gitignore has /.whl/; /.gpu-clip/ goes into .git/info/exclude) and go
# to the GPU machine as the `run` tool's carry: [".whl", ".gpu-clip"]. The script ends with
# the size that travels, which must stay under 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
CLIP_SOURCE=${CLIP_SOURCE:-../shared/data/frames/bedroom}

# Our .venv's version of a package: what the tests pass with.
version() { "$PY" -c "import importlib.metadata as m; print(m.version('$1'))"; }

mkdir -p .whl
# One version of each: drop what an earlier run left of these packages.
rm -f .whl/sam2-*.whl .whl/hydra_core-*.whl .whl/omegaconf-*.whl \
    .whl/antlr4_python3_runtime-*.whl .whl/iopath-*.whl .whl/pycocotools-*.whl
for name in hydra-core omegaconf pycocotools; do
    "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        --platform manylinux1_x86_64 -d .whl "$name==$(version "$name")"
done
# Source-only on PyPI: built here into py3-none-any wheels (pure Python, any CPython 3).
SAM2_BUILD_CUDA=0 "$PY" -m pip wheel -q --no-deps --no-build-isolation -w .whl \
    "sam2==$(version sam2)" \
    "antlr4-python3-runtime==$(version antlr4-python3-runtime)" \
    "iopath==$(version iopath)"

# The clip, as it is in shared/ (read only there: copied, never moved).
rm -rf .gpu-clip
mkdir .gpu-clip
cp "$CLIP_SOURCE"/*.jpg "$CLIP_SOURCE"/*.json .gpu-clip/
chmod -R u+w .gpu-clip
exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")"
grep -qx '/.gpu-clip/' "$exclude" 2>/dev/null || echo '/.gpu-clip/' >>"$exclude"
git check-ignore -q .gpu-clip/00000.jpg || { echo ".gpu-clip is not ignored" >&2; exit 1; }

# What travels: tracked files, untracked files git does not ignore, and the carry.
kib() { du -ck "$@" 2>/dev/null | tail -1 | cut -f1; }
tracked=$(git ls-files -z | du -ck --files0-from=- 2>/dev/null | tail -1 | cut -f1)
untracked=$(git ls-files -z --others --exclude-standard | du -ck --files0-from=- 2>/dev/null \
    | tail -1 | cut -f1)
wheels=$(kib .whl)
clip=$(kib .gpu-clip)
total=$((tracked + ${untracked:-0} + wheels + clip))
ls -l .whl
printf 'travels: tracked %s KiB + untracked %s KiB + .whl %s KiB + .gpu-clip %s KiB = %s MiB\n' \
    "$tracked" "${untracked:-0}" "$wheels" "$clip" "$((total / 1024))"
if ((total > 56 * 1024)); then
    echo "too close to the 64 MiB the GPU machine is sent" >&2
    exit 1
fi
