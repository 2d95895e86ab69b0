# labelme-sam2's Label Studio backend: one image for the web side (gunicorn, the default
# command) and the GPU workers (`labelme-sam2 worker`). See docs/team-server.md and
# docker-compose.yml. Not built on the machine it was written on (no Docker engine there).
#
#   docker build -t labelme-sam2 .
#   docker build -t labelme-sam2 \
#       --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126 \
#       --build-arg TORCH_VERSION=2.7.1 --build-arg TORCHVISION_VERSION=0.22.1 .
#
# The CUDA runtime comes inside the torch wheels; the host needs only the NVIDIA driver and the
# NVIDIA Container Toolkit. Video decoding needs no system ffmpeg: the av and imageio-ffmpeg
# wheels bring their own.
FROM python:3.11-slim

# torch and torchvision are a matched pair: change both together.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu124
ARG TORCH_VERSION=2.6.0
ARG TORCHVISION_VERSION=0.21.0

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# torch first, from the index of the CUDA build wanted, and pinned from then on: otherwise the
# next install may swap it for another build (sam2 asks for torch>=2.5.1 and torchvision).
RUN pip install --index-url "$TORCH_INDEX_URL" \
        "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION" \
 && pip freeze | grep -E '^(torch|torchvision)==' > /etc/pip-constraints.txt \
 && pip install "setuptools>=68" wheel

COPY pyproject.toml README.md ./
COPY labelme_sam2 ./labelme_sam2
COPY ls_backend ./ls_backend

# As scripts/setup.sh does: the constraint keeps that torch; sam2 is built from source against
# it (no build isolation, so no second torch is downloaded to build it) and without its
# optional CUDA extension (SAM2_BUILD_CUDA=0), which needs no compiler.
RUN PIP_CONSTRAINT=/etc/pip-constraints.txt SAM2_BUILD_CUDA=0 \
    pip install --no-build-isolation -e ".[label-studio]"

# Checkpoints come from a volume at /checkpoints (read-only is enough); /masks and /cache are
# the video masks and downloaded media, owned by the user the backend runs as.
RUN useradd --create-home --uid 1000 labelme \
 && mkdir -p /checkpoints /masks /cache \
 && chown labelme:labelme /masks /cache
USER labelme

# Both names: the model env of `worker` and gunicorn, and `serve`/`download`'s default folder.
# MALLOC_ARENA_MAX: glibc gives each request thread an arena of its own, and the backend's
# memory drifted up with the threads (the load test in bench/: 2 GB after 10 minutes of 20
# annotators; with 2 arenas it stayed at 1.05 GB).
ENV LABELME_SAM2_CHECKPOINTS_DIR=/checkpoints \
    LABELME_SAM2_CHECKPOINTS=/checkpoints \
    LABELME_SAM2_MEDIA_CACHE=/cache \
    MALLOC_ARENA_MAX=2

EXPOSE 9090
CMD ["gunicorn", "-c", "ls_backend/gunicorn.conf.py", "ls_backend.wsgi:create_app_from_env()"]
