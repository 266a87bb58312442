# The sandbox image for hosts that reach a registry: the same contents as the mmdebstrap recipe
# in sandbox/image.py (Debian bookworm, python3 with its full stdlib, coreutils for `timeout`).
# `python3-minimal` is not enough: it lacks `json`, which the harness needs.
#
# Build and tag it as the image the Docker backend expects:
#   docker build -f deploy/sandbox.Dockerfile -t retrospect-sandbox:1 deploy/
# Hosts without a registry build the same image with `python -m sandbox build-image`.
FROM debian:bookworm-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 coreutils \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*

CMD ["python3"]
