#!/usr/bin/env bash
# bench/gpu_speed.py on a fresh GPU machine without internet access, in one command.
# Usage (GPU machine, repo root): bash bench/gpu_speed.sh [gpu_speed.py flags]
#
# Prepare on the dev machine first: bash bench/gpu_prepare.sh. It puts the wheels the GPU
# machine lacks into .whl/ and the bedroom clip into .gpu-clip/; both are git-ignored, so the
# `run` tool must carry them: carry [".whl", ".gpu-clip"]. The GPU machine is expected to
# have python3 (3.12) with torch (CUDA), torchvision, numpy, pillow, opencv-python-headless,
# tqdm, pyyaml, packaging and portalocker; everything else comes from .whl/.
#
# Installs the wheels into /tmp/site (no index, no dependencies: nothing is downloaded), puts
# it and the repo on PYTHONPATH (our package is not installed), prints the GPU and versions,
# then runs the bench with a 420 s budget so that it ends, with its table, well within 8
# minutes. Everything printed also goes to $OUT/log, the table to $OUT/gpu_speed.md.
set -uo pipefail
cd "$(dirname "$0")/.."
export OUT=${OUT:-/tmp/gpu_speed}
mkdir -p "$OUT"

main() {
    date -u '+%Y-%m-%d %H:%M:%S UTC'
    python3 -m pip install -q --root-user-action=ignore --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || return
    export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    python3 -c 'import sys, torch, torchvision, sam2, hydra, pycocotools
print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda,
      "cudnn", torch.backends.cudnn.version(), "torchvision", torchvision.__version__)
print("gpu", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")' || return
    python3 bench/gpu_speed.py --budget-s "${BUDGET_S:-420}" "$@"
}

main "$@" 2>&1 | tee "$OUT/log"
