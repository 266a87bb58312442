#!/usr/bin/env bash
# Run here, before `benchmarks/discovery/device.sh` goes to a lent GPU host (the device tool,
# with carry [".device"]): what that host lacks, in .device/ (git-ignored, about 12 MB):
#   model/   the default model's shape: config and tokenizer, not the 514 MB of weights
#   wheels/  our Python dependencies that host lacks, built for its CPython 3.12
#   debs/    bubblewrap, for the process sandbox (such hosts have no Docker)
# (MBPP travels with the working tree: benchmarks/data/mbpp/.)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
model=data/models/smollm2-135m-instruct
[ -d "$model" ] || .venv/bin/retrospect prepare-model
rm -rf .device && mkdir -p .device/model .device/wheels .device/debs
for name in config.json generation_config.json tokenizer.json tokenizer_config.json chat_template.jinja; do
    cp "$model/$name" .device/model/
done
# The same versions as here, so that what ran in CI is what runs there.
pins=()
for dist in pydantic pydantic-core pydantic-settings annotated-types typing-inspection \
            python-dotenv docker; do
    pins+=("$dist==$("$PY" -m pip show "$dist" | sed -n 's/^Version: //p')")
done
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .device/wheels "${pins[@]}"
(cd .device/debs && apt-get download -qq bubblewrap libcap2 2>/dev/null)
du -sh .device
