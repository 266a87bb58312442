"""The sandbox image recipe: Debian bookworm with the full Python 3 stdlib, built with no registry.

`mmdebstrap --variant=essential --include=python3` writes a root file system tarball from
Debian's packages, which `docker import` turns into an image (about 35 s, 180 MB). Hosts that
reach a registry can build `deploy/sandbox.Dockerfile` instead; both give the same contents:
python3 (with json: `python3-minimal` lacks it) and coreutils (`timeout`).
"""

from __future__ import annotations

import logging
import shutil
import subprocess

import docker
from docker.errors import ImageNotFound

logger = logging.getLogger(__name__)

DEFAULT_IMAGE = "retrospect-sandbox:1"
SUITE = "bookworm"
PACKAGES = ("python3",)
EXCLUDED_PATHS = "path-exclude=/usr/share/{doc,man,locale,info}/*"


class ImageBuildError(RuntimeError):
    """The image could not be built on this host."""


def image_exists(tag: str = DEFAULT_IMAGE) -> bool:
    """True when the Docker daemon already holds `tag`."""
    client = docker.from_env()
    try:
        client.images.get(tag)
    except ImageNotFound:
        return False
    finally:
        client.close()
    return True


def build_image(tag: str = DEFAULT_IMAGE) -> None:
    """Build the sandbox image from Debian packages and import it as `tag`."""
    if shutil.which("mmdebstrap") is None:
        raise ImageBuildError("mmdebstrap is not installed (apt-get install -y mmdebstrap)")
    bootstrap = [
        "mmdebstrap",
        "--quiet",
        "--variant=essential",
        f"--include={','.join(PACKAGES)}",
        f"--dpkgopt={EXCLUDED_PATHS}",
        SUITE,
        "-",
    ]
    logger.info("building sandbox image %s with %s", tag, " ".join(bootstrap))
    with subprocess.Popen(bootstrap, stdout=subprocess.PIPE) as rootfs:
        imported = subprocess.run(
            ["docker", "import", "--change", 'CMD ["python3"]', "-", tag],
            stdin=rootfs.stdout,
            capture_output=True,
            text=True,
            check=False,
        )
        rootfs.wait()
    if rootfs.returncode != 0 or imported.returncode != 0:
        raise ImageBuildError(
            f"image build failed (mmdebstrap rc={rootfs.returncode}, "
            f"docker import rc={imported.returncode}): {imported.stderr.strip()}"
        )
