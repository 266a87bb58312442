#!/usr/bin/env bash
# The learner benchmark on a GPU host: the default model, then a random ~1B Llama, on cuda.
# About 4 minutes in all. Results (JSON + logs) go to "$OUT" (default benchmarks/results).
# Needs torch, transformers, peft, safetensors, pydantic and pydantic-settings; if the host
# lacks the last two, put them under .gpu_deps/ in the repo (it is added to PYTHONPATH).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-benchmarks/results}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [ -d .gpu_deps ]; then export PYTHONPATH="$PWD/.gpu_deps:$PYTHONPATH"; fi
export RETROSPECT_DATA_DIR="${RETROSPECT_DATA_DIR:-$PWD/data}"
export TOKENIZERS_PARALLELISM=false

"$PY" - <<'PYEOF' 2>&1 | tee "$OUT/learner_gpu_env.log"
import importlib, sys
for name in ("torch", "transformers", "peft", "safetensors", "pydantic", "pydantic_settings"):
    try:
        print(name, getattr(importlib.import_module(name), "__version__", "?"))
    except ImportError as exc:
        sys.exit(f"MISSING {name}: {exc}")
import torch
print("cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
PYEOF
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 3

status=0
run() {  # run NAME TIMEOUT_S ARGS...: one benchmark, its log and JSON under $OUT
    local name=$1 limit=$2; shift 2
    echo "== $name"
    timeout "$limit" "$PY" -m benchmarks.learner --device cuda --out "$OUT/learner_$name.json" "$@" \
        2>&1 | tee "$OUT/learner_$name.log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "== $name FAILED"; status=1; }
}
if [ -f data/models/smollm2-135m-instruct/model.safetensors ]; then
    run gpu_smollm2 100 --steps 3
else  # only the config travelled: same shape, random weights (timings do not depend on them)
    run gpu_smollm2 100 --steps 3 --random-init-from data/models/smollm2-135m-instruct
fi
run gpu_random_1b 150 --steps 3 --random-init-params 1e9
exit $status
