"""One typed settings object, read from `RETROSPECT_*` environment variables.

Nested groups use `__` in variable names, e.g. `RETROSPECT_ENGINE__LORA_RANK=8`.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from sandbox.extract import Extraction

# The smallest shipped model that writes programs (service/engine/catalog.py); the 135M one
# (`smollm2-135m-instruct`) is the tests' model, where behaviour is checked, not skill.
DEFAULT_MODEL = "qwen2.5-coder-0.5b-instruct"
_ASYNC_DRIVERS = (
    ("postgresql://", "postgresql+asyncpg://"),
    ("postgres://", "postgresql+asyncpg://"),
    ("sqlite://", "sqlite+aiosqlite://"),
)


class SamplerKind(StrEnum):
    """Which sampler a worker uses; `auto` picks vLLM on a CUDA host, transformers otherwise."""

    AUTO = "auto"
    TRANSFORMERS = "transformers"
    VLLM = "vllm"


class TeacherKind(StrEnum):
    """The SDPO teacher's weights: an fp32 EMA of the job's adapter, or the frozen base."""

    EMA = "ema"
    FROZEN = "frozen"


# The bounds of the SDPO hyperparameters, written once: a worker's settings and a job's own
# overrides (`SdpoParams`) are both checked with them, so a job's bad override is the API's 422
# and never a job that fails on its worker.
LearningRate = Annotated[float, Field(gt=0, le=1.0)]
EmaRate = Annotated[float, Field(gt=0, le=1)]
TopK = Annotated[int, Field(ge=1, le=1000)]
Alpha = Annotated[float, Field(ge=0, le=1)]
ClipBound = Annotated[float, Field(gt=0)]


class EngineSettings(BaseModel):
    """Model, sampler and learner settings of a worker."""

    model: str = Field(
        default=DEFAULT_MODEL,
        description="a shipped model (`smollm2-135m-instruct`, `qwen2.5-coder-0.5b-instruct`, "
        "`qwen2.5-coder-1.5b-instruct`), a local HF folder, a .gguf file or a hub id "
        "org/name[@revision]",
    )
    sampler: SamplerKind = SamplerKind.AUTO
    device: str = Field(default="auto", description="`auto`, `cpu` or `cuda[:N]`")
    lora_rank: Annotated[int, Field(ge=1, le=256)] = 16
    lora_alpha: Annotated[float, Field(gt=0)] = 32.0
    lora_target_modules: tuple[str, ...] = ("all-linear",)
    learning_rate: LearningRate = 1e-4
    weight_decay: Annotated[float, Field(ge=0)] = 0.01
    grad_clip: Annotated[float, Field(gt=0)] = 1.0
    teacher: TeacherKind = TeacherKind.EMA
    teacher_ema_rate: EmaRate = 0.01
    top_k: TopK | None = 20
    add_tail: bool = Field(default=True, description="top-K plus a tail bucket, else renormalize")
    alpha: Alpha = 1.0
    clip_advantage: ClipBound | None = 5.0
    is_clip: ClipBound | None = 2.0
    micro_batch_size: Annotated[int, Field(ge=1)] = Field(
        default=4, description="at most this many rows in one learner micro-batch"
    )
    micro_batch_tokens: Annotated[int | None, Field(ge=1)] = Field(
        default=None,
        description="padded tokens in one learner micro-batch; None = the memory plan's budget",
    )
    gradient_checkpointing: bool | None = Field(
        default=None,
        description="None = on only where the memory plan needs it for a full-length row",
    )
    sampling_tokens: Annotated[int | None, Field(ge=256)] = Field(
        default=None,
        description="KV-cache tokens the sampler holds at once; None = 16 rows of "
        "max_model_len per held job",
    )
    memory_headroom_fraction: Annotated[float, Field(ge=0, lt=1)] = Field(
        default=0.1, description="share of the device's free memory the plan leaves unused"
    )
    loss_chunk_tokens: Annotated[int | None, Field(ge=1)] = Field(
        default=256,
        description="response tokens per output-head chunk in the top-K loss; None = full "
        "logits of the response positions (`logits_to_keep`)",
    )
    bf16_autocast: bool | None = Field(
        default=None, description="bf16 autocast in the learner; None = on CUDA only"
    )
    model_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto", description="base weights; `auto` = float32 on CPU, bfloat16 on CUDA"
    )
    max_loras: Annotated[int | None, Field(ge=1)] = Field(
        default=None, description="vLLM's LoRA slots; None = the jobs a worker holds"
    )
    max_model_len: Annotated[int, Field(ge=256)] = 4096
    vllm_gpu_memory_utilization: Annotated[float | None, Field(gt=0, le=1)] = Field(
        default=None, description="vLLM's share of the GPU; None = the memory plan's"
    )
    vllm_kv_cache_bytes: Annotated[int | None, Field(ge=1)] = Field(
        default=None, description="vLLM's KV cache on CUDA; None = the memory plan's"
    )
    vllm_max_num_seqs: Annotated[int | None, Field(ge=1)] = Field(
        default=None, description="sequences vLLM decodes at once on CUDA; None = the plan's"
    )
    vllm_max_num_batched_tokens: Annotated[int | None, Field(ge=1)] = Field(
        default=None, description="tokens in one vLLM step on CUDA; None = the plan's"
    )
    keep_adapter_versions: Annotated[int, Field(ge=1)] = Field(
        default=3, description="adapter versions kept on disk per job (the newest are kept)"
    )
    state_every_steps: Annotated[int | None, Field(ge=1)] = Field(
        default=None,
        description="write a durable checkpoint (fp32 adapter, teacher, optimizer) after the "
        "first and every N-th step; resume restarts from the newest; None = 1 on CPU, 5 on CUDA",
    )
    publish_dir: Path | None = Field(
        default=None,
        description="where the adapter copy the sampler loads is written; None = "
        "/dev/shm/retrospect-adapters on CUDA, the checkpoint folder on CPU",
    )
    publish_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto", description="the published copy's dtype; `auto` = bf16 on CUDA, else fp32"
    )
    background_checkpoints: bool | None = Field(
        default=None,
        description="write durable checkpoints on a background thread; None = on CUDA only",
    )


class SdpoParams(BaseModel):
    """A job's own SDPO hyperparameters (`POST /solve`'s `sdpo`); unset fields take the
    worker's. The keys a job may set are these fields (`SDPO_OVERRIDE_KEYS`); the
    rest of `EngineSettings` shapes the shared model or the worker's memory, so it stays per
    worker. `None` means unset here, so `top_k`, `clip_advantage` and `is_clip` cannot be
    turned off per job."""

    model_config = ConfigDict(extra="forbid")

    learning_rate: LearningRate | None = None
    teacher: TeacherKind | None = None
    teacher_ema_rate: EmaRate | None = None
    top_k: TopK | None = None
    alpha: Alpha | None = None
    clip_advantage: ClipBound | None = None
    is_clip: ClipBound | None = None

    def overrides(self) -> dict[str, Any]:
        """The fields the job set, as JSON values (what the store keeps, what the learner
        takes over the worker's `EngineSettings`)."""
        return self.model_dump(mode="json", exclude_none=True)


SDPO_OVERRIDE_KEYS = frozenset(SdpoParams.model_fields)
_NOT_SETTINGS = SDPO_OVERRIDE_KEYS - set(EngineSettings.model_fields)
if _NOT_SETTINGS:  # pragma: no cover - caught at import
    raise ImportError(f"SdpoParams fields {sorted(_NOT_SETTINGS)} are not EngineSettings fields")


class SandboxSettings(BaseModel):
    """Where attempts run; Docker is reached through the standard `DOCKER_HOST`."""

    backend: Literal["auto", "docker", "process"] = Field(
        default="auto", description="`auto` = Docker when a daemon answers, else bubblewrap"
    )
    image: str = "retrospect-sandbox:1"
    concurrency: Annotated[int, Field(ge=1, le=64)] = 4
    extraction: Extraction = Field(
        default=Extraction.SOLUTION,
        description="what of a response is judged: `solution` (the `runnable` block without "
        "its top-level test code), `runnable` (the longest block that compiles and defines what "
        "the tests call) or `longest` (the SDPO paper's rule)",
    )


class WorkerSettings(BaseModel):
    """How a worker holds jobs: the lease it renews, how often, and how it waits for work."""

    lease_s: Annotated[float, Field(gt=0)] = 30.0
    heartbeat_s: Annotated[float, Field(gt=0)] = 5.0
    poll_s: Annotated[float, Field(gt=0)] = 2.0
    torch_threads: Annotated[int | None, Field(ge=1)] = Field(
        default=None,
        description="torch intra-op threads; None = torch's default. Two model processes on "
        "one small host must split the cores, or both slow down many times over",
    )
    max_new_tokens: Annotated[int, Field(ge=1, le=32768)] = 512
    max_jobs: Annotated[int, Field(ge=1, le=64)] = Field(
        default=1,
        description="jobs one worker holds at once, each with its own adapter; their rounds "
        "sample together in one batch",
    )


class EdgeSettings(BaseModel):
    """What one connection may hold of an API process (`RETROSPECT_EDGE__*`); the table in
    docs/limits.md says where each is enforced."""

    max_header_bytes: Annotated[int, Field(ge=4096)] = Field(
        default=64 * 1024, description="the request line and headers together (uvicorn/h11)"
    )
    max_headers: Annotated[int, Field(ge=8)] = Field(
        default=100, description="header fields in one request; beyond, a 431"
    )
    header_timeout_s: Annotated[float, Field(gt=0)] = Field(
        default=10.0, description="from connect (or the previous answer) to a whole head"
    )
    body_timeout_s: Annotated[float, Field(gt=0)] = Field(
        default=30.0, description="to read a whole request body; beyond, a 408"
    )
    keep_alive_s: Annotated[int, Field(ge=1)] = Field(
        default=5, description="an idle keep-alive connection is closed after this"
    )
    graceful_stop_s: Annotated[int, Field(ge=1)] = Field(
        default=10, description="on SIGTERM, open requests and streams get this long"
    )
    ws_max_message_bytes: Annotated[int, Field(ge=1024)] = Field(
        default=64 * 1024, description="a larger WebSocket message closes the socket (1009)"
    )
    ws_ping_interval_s: Annotated[float, Field(gt=0)] = 20.0
    ws_ping_timeout_s: Annotated[float, Field(gt=0)] = Field(
        default=20.0, description="a client that does not answer a ping in time is closed"
    )
    max_connections: Annotated[int, Field(ge=1)] = Field(
        default=1000,
        description="concurrent connections and WebSockets of one process; beyond, a 503 "
        "(kept below the open-files limit, see docs/limits.md)",
    )


class LimitSettings(BaseModel):
    """What one request may ask for; beyond these the API answers 413 or 422 naming the field."""

    max_body_bytes: Annotated[int, Field(ge=1024)] = 4 * 1024 * 1024
    max_tests: Annotated[int, Field(ge=1)] = 500
    max_statement_chars: Annotated[int, Field(ge=1)] = 20_000
    max_attempts: Annotated[int, Field(ge=1)] = 4096
    max_attempts_per_round: Annotated[int, Field(ge=1)] = 64
    max_seconds: Annotated[float, Field(gt=0)] = 24 * 3600.0
    max_new_tokens: Annotated[int, Field(ge=1)] = 4096
    max_metadata_chars: Annotated[int, Field(ge=2)] = 4096
    max_active_jobs_per_key: Annotated[int, Field(ge=1)] = 8


class Settings(BaseSettings):
    """Every setting of the service, validated at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="RETROSPECT_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Path("./data")
    database_url: str | None = None
    models_dir: Path | None = Field(
        default=None, description="model cache; None = `<data_dir>/models`"
    )
    redis_url: str | None = None
    redis_prefix: str = Field(
        default="retrospect:", description="channel prefix, so deployments can share a Redis"
    )
    require_api_keys: bool | None = Field(
        default=None,
        description="None = required unless the API is bound to a loopback address",
    )
    sse_ping_s: Annotated[float, Field(gt=0)] = 15.0
    metrics_fleet: bool = Field(
        default=False,
        description="`/metrics` counts every key's jobs; False = only the caller's own",
    )
    engine: EngineSettings = Field(default_factory=EngineSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    edge: EdgeSettings = Field(default_factory=EdgeSettings)

    @property
    def model_cache_dir(self) -> Path:
        """Converted models live here, shared by the learner and vLLM."""
        return self.models_dir or self.data_dir / "models"

    @property
    def adapters_dir(self) -> Path:
        """Per-job adapter checkpoints live here."""
        return self.data_dir / "adapters"

    @property
    def resolved_database_url(self) -> str:
        """The async SQLAlchemy URL: `database_url`, else a SQLite file in the data dir.

        Plain `postgresql://` and `sqlite:///` URLs get their async driver, so operators can
        paste the URL their other tools use.
        """
        if self.database_url is None:
            return f"sqlite+aiosqlite:///{self.data_dir / 'retrospect.db'}"
        for plain, driver in _ASYNC_DRIVERS:
            if self.database_url.startswith(plain):
                return driver + self.database_url.removeprefix(plain)
        return self.database_url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings; tests build their own `Settings(...)` instead."""
    return Settings()
