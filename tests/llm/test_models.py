import dataclasses

import pytest
import torch

from tallrec.core.errors import ModelError
from tallrec.llm import models


def test_registry_gguf_is_verified_by_checksum(monkeypatch):
    entry = models.REGISTRY["smollm2-135m"]
    assert models.registry_gguf("smollm2-135m").name.endswith(".gguf")
    monkeypatch.setitem(models.REGISTRY, "smollm2-135m", dataclasses.replace(entry, sha256="0" * 64))
    with pytest.raises(ModelError, match="does not match the expected 0000"):
        models.registry_gguf("smollm2-135m")


def test_missing_model_package_says_what_to_install(monkeypatch):
    entry = models.REGISTRY["gemma3-270m"]
    monkeypatch.setitem(models.REGISTRY, "gemma3-270m",
                        dataclasses.replace(entry, parts=(("no-such-package-xyz", "a/b.gguf"),)))
    with pytest.raises(ModelError, match="needs the package no-such-package-xyz: run `pip install gemma3"):
        models.registry_gguf("gemma3-270m")


def test_model_path_errors(tmp_path):
    with pytest.raises(ModelError, match="no such model folder or file"):
        models.resolve_model_path(str(tmp_path / "nope"))
    (tmp_path / "w.bin").write_bytes(b"x")
    with pytest.raises(ModelError, match="must be .gguf"):
        models.resolve_model_path(str(tmp_path / "w.bin"))
    with pytest.raises(ModelError, match="no config.json"):
        models.resolve_model_path(str(tmp_path))


def test_precision_choice():
    cpu = torch.device("cpu")
    assert models.pick_dtype("fp32", cpu) == torch.float32
    assert models.pick_dtype("auto", cpu) == (torch.bfloat16 if models.cpu_has_native_bf16() else torch.float32)
    with pytest.raises(ModelError, match="unknown precision"):
        models.pick_dtype("int3", cpu)


@pytest.mark.slow
def test_converted_cache_gives_the_gguf_logits(tmp_path, monkeypatch):
    """The safetensors copy of a registry GGUF reloads with identical logits (~40 s: dequantizes)."""
    monkeypatch.setenv("TALLREC_CACHE_DIR", str(tmp_path))
    direct, tok = models._load_gguf(models.registry_gguf("smollm2-135m"), torch.float32)
    cached = models.load_model("smollm2-135m", precision="fp32", device="cpu")
    ids = tok("Whether the user will like the target movie?", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.equal(direct(ids).logits, cached.model(ids).logits)
