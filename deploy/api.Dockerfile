# syntax=docker/dockerfile:1
# The API image: `retrospect api` (HTTP only, no worker) and `retrospect migrate`. No GPU, no
# vLLM and no model: torch is a dependency of the package, so it is the CPU build from the
# PyTorch CPU index (about 200 MB instead of several GB of CUDA wheels). Everything installed is
# requirements/api.txt, pinned and hashed (`make lock` writes it).
#
# Build from the repository root (the context needs pyproject.toml, service/, migrations/...):
#   docker build -f deploy/api.Dockerfile -t retrospect-api .
ARG PYTHON_VERSION=3.11
FROM python:${PYTHON_VERSION}-slim-bookworm

# Where the lock's torch (a +cpu build) is found; every other package comes from PyPI.
ARG TORCH_FIND_LINKS=https://download.pytorch.org/whl/cpu/torch/

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    UV_NO_CACHE=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_PYTHON_DOWNLOADS=never \
    RETROSPECT_DATA_DIR=/data

WORKDIR /app

# Dependencies first, in a layer that survives source changes: exactly the lock.
COPY requirements/uv.txt requirements/api.txt requirements/
RUN python -m venv /opt/venv \
    && pip install --require-hashes --no-deps -r requirements/uv.txt \
    && uv pip sync --require-hashes --find-links "${TORCH_FIND_LINKS}" requirements/api.txt

# The sources, migrations/ and alembic.ini stay in /app, the working directory: `retrospect
# migrate` and the `alembic` command line find alembic.ini there, and the package is installed
# in place (editable) so that code locating migrations/ next to the package finds /app/migrations.
COPY . .
RUN uv pip install --no-deps -e . \
    && useradd --uid 10001 --user-group --create-home --shell /usr/sbin/nologin retrospect \
    && mkdir -p /data/adapters \
    && chown -R retrospect:retrospect /data

USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

CMD ["retrospect", "api", "--host", "0.0.0.0", "--port", "8000"]
