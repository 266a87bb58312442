"""`python -m benchmarks.discovery` end to end on the real model and the Docker sandbox, at a
tiny budget: screening, a run per strategy, the JSON and the plot (the wiring, not a result)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchmarks.discovery.__main__ import main
from benchmarks.discovery.sweep import main as sweep_main
from service.config import get_settings
from service.engine.model import resolve_model
from tests.conftest import TEST_MODEL

pytestmark = [pytest.mark.model, pytest.mark.docker, pytest.mark.usefixtures("cpu_engine")]


def test_a_tiny_benchmark_writes_its_report_and_plot(tmp_path: Path) -> None:
    args = ["--config", "smoke", "--limit", "1", "--max-attempts", "2"]
    args += ["--attempts-per-round", "2", "--max-new-tokens", "32", "--seeds", "1"]
    args += ["--select-hard", "--screen-samples", "2", "--hard-threshold", "1.01"]
    main([*args, "--out-dir", str(tmp_path)])
    report = json.loads((tmp_path / "discovery.json").read_text())
    assert report["problems"]["screening"][0]["reference_ok"] is True
    assert report["problems"]["selected"] == [report["problems"]["screening"][0]["problem"]]
    assert set(report["strategies"]) == {"sdpo", "best_of_k", "multi_turn"}
    runs = report["runs"]
    assert len(runs) == 3 and all(run["attempts_used"] in (1, 2) for run in runs)
    assert (tmp_path / "discovery.png").read_bytes()[:4] == b"\x89PNG"


def test_random_weights_in_the_models_shape_run_the_benchmark(tmp_path: Path) -> None:
    """The GPU host's timing-only variant (`device.sh`), here on the CPU: only the model's
    config and tokenizer, random weights, one real run through the sandbox."""
    shape = tmp_path / "model"
    shape.mkdir()
    model = Path(resolve_model(TEST_MODEL, get_settings().model_cache_dir))
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        shutil.copy(model / name, shape / name)
    args = ["--config", "gpu", "--no-select-hard", "--limit", "1", "--seeds", "1"]
    args += ["--strategies", "sdpo", "--max-attempts", "2", "--attempts-per-round", "2"]
    args += ["--max-new-tokens", "8", "--random-weights-from", str(shape)]
    main([*args, "--out-dir", str(tmp_path / "out")])
    report = json.loads((tmp_path / "out" / "discovery.json").read_text())
    assert report["config"]["random_weights"] is True
    (run,) = report["runs"]
    assert run["attempts_used"] == 2 and run["discovery_index"] is None
    assert run["phases_s"]["learning"] > 0  # the SDPO step ran on the random model


def test_the_sweep_runs_each_setting_on_the_selected_problems(tmp_path: Path) -> None:
    earlier = tmp_path / "discovery.json"
    screening = [{"problem": "Sum of even numbers", "n": 2, "c": 1, "reference_ok": True}]
    earlier.write_text(
        json.dumps(
            {
                "config": {"max_attempts": 2},
                "problems": {"selected": ["Sum of even numbers"], "screening": screening},
                "runs": [],
            }
        )
    )
    args = ["--problems-from", str(earlier), "--config", "smoke", "--settings", "default,rank=4"]
    args += ["--max-attempts", "2", "--attempts-per-round", "2", "--max-new-tokens", "16"]
    args += ["--out-dir", str(tmp_path)]
    sweep_main(args)
    report = json.loads((tmp_path / "sweep.json").read_text())
    assert set(report["settings"]) == {"default", "rank=4"}
    assert all(len(runs) == 1 for runs in report["runs"].values())
    assert report["best"] in report["settings"] and isinstance(report["beats_default"], bool)
