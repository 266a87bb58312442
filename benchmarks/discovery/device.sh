#!/usr/bin/env bash
# The discovery benchmark on a GPU host, transformers sampler (no vLLM there) and the
# bubblewrap sandbox (no Docker there). Where the default model's weights are present it runs
# `--config gpu` (the answer); where only its shape travelled (`device_prepare.sh`, the device
# tool's 64 MB limit) it runs a timing-only variant on random weights: per-attempt wall time of
# each strategy on the GPU, with no discoveries to read. Results go to "$OUT".
#   device tool: run(command="bash benchmarks/discovery/device.sh", carry=[".device"])
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-benchmarks/results/device}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT"
if [ -d .device/wheels ]; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/retrospect-site .device/wheels/*.whl || exit 3
    export PYTHONPATH="/tmp/retrospect-site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if ! command -v bwrap >/dev/null && [ -d .device/debs ]; then
    for deb in .device/debs/*.deb; do dpkg -x "$deb" /tmp/retrospect-bw; done
    export PATH="/tmp/retrospect-bw/usr/bin:$PATH"
    export LD_LIBRARY_PATH="/tmp/retrospect-bw/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
if ! bwrap --ro-bind / / --unshare-all --die-with-parent true 2>"$OUT/bwrap.err"; then
    echo "no sandbox here: bubblewrap cannot make its namespaces ($(cat "$OUT/bwrap.err"))"
    exit 4
fi
export RETROSPECT_DATA_DIR="${RETROSPECT_DATA_DIR:-/tmp/retrospect-data}"
export RETROSPECT_ENGINE__DEVICE=cuda RETROSPECT_ENGINE__SAMPLER=transformers
export TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
"$PY" -c 'import torch, transformers, peft, pydantic; print("torch", torch.__version__,
    "transformers", transformers.__version__, "peft", peft.__version__,
    "cuda", torch.cuda.is_available() and torch.cuda.get_device_name(0))' || exit 3

mbpp=benchmarks/data/mbpp/mbpp-sanitized.json
if [ -f data/models/smollm2-135m-instruct/model.safetensors ]; then
    args=(--config gpu)
else
    args=(--config gpu --random-weights-from .device/model --no-select-hard --limit 2
          --seeds 1 --max-attempts 16)
fi
timeout "${LIMIT_S:-480}" "$PY" -m benchmarks.discovery "${args[@]}" --mbpp "$mbpp" \
    --out-dir "$OUT" 2>&1 | tee "$OUT/discovery.log"
exit "${PIPESTATUS[0]}"
