"""Publishing a job's adapter versions: the resolved policy, atomic version folders, and the
background writer's ordering and failures."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from service.config import EngineSettings
from service.engine import adapters, publishing
from service.engine.layout import Manifest, versions_on_disk

CPU, CUDA = torch.device("cpu"), torch.device("cuda", 0)


def test_a_cpu_host_keeps_one_folder_fp32_every_step_inline(tmp_path: Path) -> None:
    policy = publishing.resolve_policy(EngineSettings(), CPU, tmp_path)
    assert policy.publish_root == tmp_path and not policy.split
    assert policy.publish_dtype == torch.float32 and not policy.background
    assert [policy.wants_state(steps) for steps in range(1, 5)] == [True] * 4


def test_a_cuda_host_publishes_bf16_to_shared_memory_and_checkpoints_every_5th(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(publishing, "SHARED_MEMORY", tmp_path / "shm")
    (tmp_path / "shm").mkdir()
    policy = publishing.resolve_policy(EngineSettings(), CUDA, tmp_path / "adapters")
    assert policy.publish_root == tmp_path / "shm" / "retrospect-adapters" and policy.split
    assert policy.publish_dtype == torch.bfloat16 and policy.background
    durable = [steps for steps in range(1, 16) if policy.wants_state(steps)]
    assert durable == [1, 5, 10, 15]  # the first step too: a resume point early


def test_without_shared_memory_cuda_publishes_beside_the_checkpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(publishing, "SHARED_MEMORY", tmp_path / "absent")
    policy = publishing.resolve_policy(EngineSettings(), CUDA, tmp_path)
    assert policy.publish_root == tmp_path and not policy.split


def test_explicit_settings_win(tmp_path: Path) -> None:
    settings = EngineSettings(
        publish_dir=tmp_path / "pub",
        publish_dtype="float32",
        state_every_steps=3,
        background_checkpoints=False,
    )
    policy = publishing.resolve_policy(settings, CUDA, tmp_path / "adapters")
    assert (policy.publish_root, policy.publish_dtype) == (tmp_path / "pub", torch.float32)
    assert policy.state_every_steps == 3 and not policy.background


def snapshot(seed: int) -> publishing.Snapshot:
    generator = torch.Generator().manual_seed(seed)
    weights = {"a.lora_A.weight": torch.randn(4, 8, generator=generator)}
    return publishing.Snapshot.take(weights, None, None)


def write(parent: Path, version: int, dtype: torch.dtype, keep: int = 3) -> str:
    manifest = Manifest("job", version, version, False, "", has_state=False)
    config = '{"r": 4}'

    def save_config(directory: str) -> None:
        (Path(directory) / "adapter_config.json").write_text(config)

    name = f"job-v{version}-0000"
    return publishing.write_version(
        parent, name, manifest, snapshot(version), save_config, dtype, keep
    )


def test_a_version_is_written_whole_in_its_dtype_with_its_hash(tmp_path: Path) -> None:
    sha256 = write(tmp_path, 1, torch.bfloat16)
    folder = tmp_path / "job-v1-0000"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job-v1-0000"]  # no staging left
    weights = load_file(str(folder / adapters.ADAPTER_FILE))
    assert weights["a.lora_A.weight"].dtype == torch.bfloat16
    assert torch.equal(
        weights["a.lora_A.weight"], snapshot(1).adapter["a.lora_A.weight"].bfloat16()
    )
    assert adapters.sha256_file(folder / adapters.ADAPTER_FILE) == sha256
    assert Manifest.read(folder).adapter_sha256 == sha256


def test_old_versions_are_pruned(tmp_path: Path) -> None:
    for version in range(1, 6):
        write(tmp_path, version, torch.float32, keep=2)
    assert [m.version for m, _ in versions_on_disk(tmp_path)] == [4, 5]


def test_a_snapshot_does_not_follow_the_live_tensors() -> None:
    live = {"w": torch.zeros(3)}
    taken = publishing.Snapshot.take(
        live, None, {"state": {0: {"exp_avg": live["w"]}}, "param_groups": []}
    )
    live["w"].add_(1.0)
    assert torch.equal(taken.adapter["w"], torch.zeros(3))
    assert taken.optimizer is not None
    assert torch.equal(taken.optimizer["state"][0]["exp_avg"], torch.zeros(3))


def test_background_writes_run_in_order_off_the_caller_thread() -> None:
    writer = publishing.CheckpointWriter(background=True)
    seen: list[tuple[int, str]] = []
    for index in range(5):
        writer.submit(lambda index=index: seen.append((index, threading.current_thread().name)))
    writer.close()
    assert [index for index, _ in seen] == list(range(5))
    assert all(name.startswith("checkpoints") for _, name in seen)


@pytest.mark.parametrize("background", [True, False])
def test_a_failed_write_is_raised_not_lost(background: bool) -> None:
    writer = publishing.CheckpointWriter(background=background)

    def full_disk() -> None:
        raise OSError(28, "No space left on device")

    if background:
        writer.submit(full_disk)
        with pytest.raises(publishing.CheckpointWriteError, match="No space left"):
            writer.flush()
        writer.flush()  # raised once; the writer goes on
    else:
        with pytest.raises(OSError, match="No space left"):
            writer.submit(full_disk)
    writer.close()
