"""Will a LoRA run fit? A memory estimate from a model's shape and a training config, made before
any weight loads (`tallrec plan`, and `tallrec train` before it loads the model).

The model's shape comes from its config.json (a Hugging Face folder, or the folder a registry model
was converted to) or from a GGUF file's metadata; nothing else is read. The estimate, per process:

  peak = max(loading, runtime + weights + LoRA states + max(training activations + logits, evaluation))

  weights      parameters x bytes per value; 8bit/4bit quantize the decoder's Linear layers (1 byte,
               and 4.127 bits for NF4 with double quantization) and leave embeddings, norms and the
               LM head in fp32 (peft's prepare_model_for_kbit_training casts them up).
  LoRA states  LoRA parameters x 16 bytes: fp32 weight, gradient and AdamW's two moments.
  activations  layers x micro_batch x seq x hidden x k bytes, k = K_VALUES x bytes per value:
               K_VALUES = 17 values per hidden unit kept per layer for the backward pass (norm inputs
               and outputs 4, q/k/v/attention output ~4, the MLP's gate, up, activation and product
               4 x intermediate/hidden ~ 11 for LLaMA shapes: 17 is their LLaMA-7B sum rounded down).
               With gradient checkpointing: one layer's worth plus each layer's input
               (layers x micro_batch x seq x hidden x bytes).
               On a CPU attention is eager (tuning/cpu_engine.py) and keeps its score and
               probability matrices: 2 x heads x seq^2 x bytes per layer kept (one with checkpointing).
               GPUs use SDPA, whose memory is linear in seq.
  logits       the token loss (tuning/token_loss.py) builds logits in 32 MiB chunks, never the
               micro_batch x seq x vocab tensor; 3 chunks (logits, log-probs, gradient) are counted.
  evaluation   validation scoring at eval_batch_size: its key/value cache (2 x layers x kv width)
               plus one layer's working set, no gradients.
  loading      on a CPU only: runtime + the weights file (memory-mapped while it is read) + the
               weights; it sets the peak when training itself needs less (gradient checkpointing).
  runtime      the process before any weight loads: Python, torch, transformers and the tokenizer
               (0.45 GiB measured on the CPU) or the CUDA context and allocator slack (0.5 GiB assumed).

seq is the config's cutoff: the longest an example can be. Real examples are often shorter (movie
rec-tuning prompts: 210-260 tokens of 512), so the plan is an upper bound there; it was checked against
measured peaks with benchmarks/plan_check.py at the runs' actual longest example (BENCHMARKS.md).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ..core.errors import ModelError, TallrecError

GIB = 1 << 30
K_VALUES = 17
RUNTIME_BYTES = {"cpu": int(0.45 * GIB), "cuda": int(0.5 * GIB)}
LOGIT_CHUNK_BYTES = 32 << 20
WEIGHT_MODES = ("fp32", "bf16", "fp16", "8bit", "4bit")
NF4_BYTES = 4.127 / 8  # 4-bit values + blockwise absmax (8-bit, blocks of 64) + second-level constants


@dataclass(frozen=True)
class ModelShape:
    """What the estimate needs of a decoder-only transformer (LLaMA-like: gated MLP, GQA)."""

    name: str
    params: int
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied: bool
    stored_bytes: int = 0   # the weights file(s) as stored (read once while loading)

    @property
    def linear_params(self) -> int:
        """Parameters in the decoder layers' Linear modules (what bitsandbytes quantizes)."""
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        return self.layers * (2 * self.hidden * q + 2 * self.hidden * kv + 3 * self.hidden * self.intermediate)

    def module_dims(self, name: str) -> tuple[int, int]:
        """(in, out) features of a LoRA target module."""
        q, kv, h, i = self.heads * self.head_dim, self.kv_heads * self.head_dim, self.hidden, self.intermediate
        dims = {"q_proj": (h, q), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (q, h),
                "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}
        if name not in dims:
            raise ModelError(f"plan: unknown LoRA target {name!r} (known: {', '.join(dims)})")
        return dims[name]


def shape_from_config(cfg: dict, name: str) -> ModelShape:
    """A shape from a config.json mapping (multimodal configs: their text_config). Parameters are
    counted from the shape: embeddings, the decoder layers, norms and an untied LM head."""
    tied = bool(cfg.get("tie_word_embeddings", False))
    cfg = cfg.get("text_config") or cfg
    try:
        h, layers, heads = int(cfg["hidden_size"]), int(cfg["num_hidden_layers"]), int(cfg["num_attention_heads"])
        inter, vocab = int(cfg["intermediate_size"]), int(cfg["vocab_size"])
    except (KeyError, TypeError, ValueError) as e:
        raise ModelError(f"{name}: config.json lacks {e} (not a decoder-only transformer config)") from None
    kv = int(cfg.get("num_key_value_heads") or heads)
    hd = int(cfg.get("head_dim") or h // heads)
    partial = ModelShape(name, 0, layers, h, inter, heads, kv, hd, vocab, tied)
    params = partial.linear_params + vocab * h * (1 if tied else 2) + layers * 2 * h + h
    stored = {"float32": 4, "bfloat16": 2, "float16": 2}.get(cfg.get("torch_dtype") or cfg.get("dtype"), 2)
    return replace(partial, params=params, stored_bytes=params * stored)


def _with_files(shape: ModelShape, folder: Path) -> ModelShape:
    """The shape with the folder's weight files' real size, when it holds them."""
    size = sum(f.stat().st_size for pattern in ("*.safetensors", "*.bin") for f in folder.glob(pattern))
    return replace(shape, stored_bytes=size) if size else shape


def _gguf_value(reader, key: str, default=None):
    field = reader.fields.get(key)
    if field is None:
        return default
    value = field.parts[field.data[0]]
    return bytes(value).decode() if field.types and field.types[0].name == "STRING" else int(value[0])


def shape_from_gguf(path: Path, name: str) -> ModelShape:
    """A shape from a GGUF file's metadata and tensor list (parameters counted exactly)."""
    try:
        import gguf
    except ImportError:
        raise ModelError(f"{path}: reading GGUF metadata needs the `gguf` package") from None
    try:
        r = gguf.GGUFReader(str(path))
    except (ValueError, OSError) as e:
        raise ModelError(f"{path}: not a readable GGUF file ({str(e).splitlines()[0]})") from None
    arch = _gguf_value(r, "general.architecture")
    get = lambda key, default=None: _gguf_value(r, f"{arch}.{key}", default)  # noqa: E731
    h, heads = get("embedding_length"), get("attention.head_count")
    if None in (h, heads, get("block_count"), get("feed_forward_length")):
        raise ModelError(f"{path}: GGUF metadata lacks the {arch} shape keys")
    tokens = r.fields.get("tokenizer.ggml.tokens")
    vocab = get("vocab_size") or (len(tokens.data) if tokens is not None else 0)
    names = {t.name for t in r.tensors}
    return ModelShape(name, sum(int(t.n_elements) for t in r.tensors), get("block_count"), h,
                      get("feed_forward_length"), heads, get("attention.head_count_kv", heads),
                      get("attention.key_length", h // heads), vocab, "output.weight" not in names,
                      Path(path).stat().st_size)


def read_shape(name_or_path: str) -> ModelShape:
    """The shape of a registry model, a HF folder or a .gguf file, without loading weights."""
    from .models import REGISTRY, converted_dir, registry_gguf

    if name_or_path in REGISTRY:
        converted = converted_dir(name_or_path) / "config.json"
        if converted.is_file():
            return _with_files(shape_from_config(json.loads(converted.read_text()), name_or_path), converted.parent)
        return shape_from_gguf(registry_gguf(name_or_path), name_or_path)
    p = Path(name_or_path).expanduser()
    if p.is_file() and p.suffix == ".gguf":
        return shape_from_gguf(p, name_or_path)
    if p.is_dir() and (p / "config.json").is_file():
        try:
            return _with_files(shape_from_config(json.loads((p / "config.json").read_text()), name_or_path), p)
        except json.JSONDecodeError as e:
            raise ModelError(f"{p / 'config.json'}: not JSON ({e})") from None
    raise ModelError(f"{name_or_path}: no registry model, HF folder with config.json, or .gguf file")


# ---------------------------------------------------------------- the estimate

@dataclass(frozen=True)
class Setup:
    """What a training run decides about memory (a TrainConfig's memory-relevant settings)."""

    device: str                 # cuda | cpu
    value_bytes: int            # 2 (bf16/fp16) or 4 (fp32): weights and activations
    quantize: str = "none"
    gradient_checkpointing: bool = False
    micro_batch: int = 1
    seq: int = 512
    eval_batch: int = 0
    lora_r: int = 8
    lora_targets: tuple[str, ...] = ("q_proj", "v_proj")


def lora_params(shape: ModelShape, r: int, targets) -> int:
    return shape.layers * sum(r * sum(shape.module_dims(t)) for t in targets)


def weights_bytes(shape: ModelShape, mode: str) -> int:
    """Bytes of the base weights: fp32 | bf16 | fp16 | 8bit | 4bit (quantized: as prepared for training)."""
    if mode in ("fp32", "bf16", "fp16"):
        return shape.params * (4 if mode == "fp32" else 2)
    other = shape.params - shape.linear_params
    per_value = {"8bit": 1.0, "4bit": NF4_BYTES}[mode]
    return int(shape.linear_params * per_value + other * 4)


def estimate(shape: ModelShape, s: Setup) -> dict:
    """The estimate's terms and their peak, in bytes (see the module docstring)."""
    b = s.value_bytes
    weights = weights_bytes(shape, s.quantize if s.quantize != "none" else {4: "fp32", 2: "bf16"}[b])
    lora = lora_params(shape, s.lora_r, s.lora_targets)
    tokens = s.micro_batch * s.seq
    layer = tokens * shape.hidden * K_VALUES * b
    scores = 2 * s.micro_batch * shape.heads * s.seq ** 2 * b if s.device == "cpu" else 0
    if s.gradient_checkpointing:
        acts = layer + scores + shape.layers * tokens * shape.hidden * b
    else:
        acts = shape.layers * (layer + scores)
    logits = 3 * min(LOGIT_CHUNK_BYTES, tokens * shape.vocab * 4)
    ev_tokens = s.eval_batch * s.seq
    kv = 2 * shape.layers * shape.kv_heads * shape.head_dim * b * ev_tokens
    ev_layer = ev_tokens * (4 * shape.hidden + 3 * shape.intermediate) * b
    ev_scores = 2 * s.eval_batch * shape.heads * s.seq ** 2 * b if s.device == "cpu" else 0
    evaluation = kv + ev_layer + ev_scores + (min(LOGIT_CHUNK_BYTES, ev_tokens * shape.vocab * 4) if ev_tokens else 0)
    training = acts + logits
    runtime = RUNTIME_BYTES[s.device]
    # On a CPU, loading holds the memory-mapped weights file beside the model it fills.
    loading = runtime + shape.stored_bytes + weights if s.device == "cpu" else 0
    return {"runtime": runtime, "weights": weights, "lora_states": lora * 16, "activations": acts,
            "logits": logits, "evaluation": evaluation, "loading": loading,
            "peak": max(loading, runtime + weights + lora * 16 + max(training, evaluation))}


def divisors_down(n: int, start: int) -> list[int]:
    """Divisors of n that are at most `start`, largest first: the micro batches that keep the
    effective batch exact (micro x accumulation = n)."""
    return [d for d in range(min(n, start), 0, -1) if n % d == 0]


def first_fix(shape: ModelShape, s: Setup, memory: int, batch: int) -> dict | None:
    """The first change, levers tried cumulatively in order, that makes the run fit `memory`:
    gradient checkpointing, 8bit, 4bit, a smaller micro batch (a divisor of the batch), a shorter
    cutoff. None when it fits already or nothing does."""
    if estimate(shape, s)["peak"] <= memory:
        return None
    change: dict = {}
    steps = []
    if not s.gradient_checkpointing:
        steps.append(({"gradient_checkpointing": True}, {"gradient_checkpointing": True}))
    if s.quantize == "none":
        steps.append(({"quantize": "8bit"}, {"quantize": "8bit"}))
    if s.quantize != "4bit":
        steps.append(({"quantize": "4bit"}, {"quantize": "4bit"}))
    for settings, fields in steps:
        change.update(settings)
        s = replace(s, **fields)
        if estimate(shape, s)["peak"] <= memory:
            return change
    for micro in divisors_down(batch, s.micro_batch - 1):
        if estimate(shape, replace(s, micro_batch=micro))["peak"] <= memory:
            return {**change, "micro_batch_size": micro}
    s = replace(s, micro_batch=1)
    change["micro_batch_size"] = 1
    cutoff = s.seq
    while cutoff > 64:
        cutoff = max(64, cutoff // 2 if cutoff > 128 else cutoff - 32)
        if estimate(shape, replace(s, seq=cutoff))["peak"] <= memory:
            return {**change, "cutoff": cutoff}
    return None


def fix_text(fix: dict) -> str:
    """A fix as command-line flags."""
    parts = []
    for k, v in fix.items():
        flag = "--" + k.replace("_", "-")
        parts.append(flag if v is True else f"{flag} {v}")
    return " ".join(parts)


# ---------------------------------------------------------------- devices and configs

def parse_memory(text: str) -> int:
    """'24GiB', '24GB', '16g', '512MiB', or a byte count."""
    t = text.strip().lower().replace(" ", "")
    units = [("gib", GIB), ("gb", 10 ** 9), ("g", GIB), ("mib", 1 << 20), ("mb", 10 ** 6), ("m", 1 << 20), ("b", 1)]
    suffix, mult = next(((u, m) for u, m in units if t.endswith(u)), ("", 1))
    t = t[: len(t) - len(suffix)]
    try:
        value = float(t)
    except ValueError:
        raise TallrecError(f"--gpu-memory: {text!r} is not a size such as 24GiB, 24GB or 512MiB") from None
    if value <= 0:
        raise TallrecError(f"--gpu-memory: must be positive, got {text!r}")
    return int(value * mult)


def device_memory(device: str) -> tuple[int, str]:
    """(bytes, description) of the device found: a CUDA GPU's total memory, else the host's RAM."""
    import torch

    if device == "cuda" and torch.cuda.is_available():
        i = torch.cuda.current_device()
        p = torch.cuda.get_device_properties(i)
        return int(p.total_memory), f"cuda:{i} {p.name}"
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "host RAM"


def value_bytes(precision: str, device: str) -> int:
    """Bytes per weight/activation value for a precision setting on a device kind (auto as
    llm.models.pick_dtype resolves it: bf16/fp16 on a GPU, bf16 on CPUs that run it natively)."""
    if precision in ("fp32", "float32"):
        return 4
    if precision in ("bf16", "fp16", "bfloat16", "float16"):
        return 2
    if device == "cuda":
        return 2
    from .models import cpu_has_native_bf16

    return 2 if cpu_has_native_bf16() else 4


def setup_for(cfg, device: str, micro_batch: int | None = None, value: int | None = None) -> Setup:
    """The Setup of a TrainConfig/InstructConfig on a device kind; micro_batch_size auto plans at 1."""
    micro = micro_batch or (cfg.micro_batch_size if cfg.micro_batch_size != "auto" else 1)
    return Setup(device=device, value_bytes=value or value_bytes(cfg.precision, device), quantize=cfg.quantize,
                 gradient_checkpointing=cfg.gradient_checkpointing, micro_batch=min(micro, cfg.batch_size),
                 seq=cfg.cutoff, eval_batch=getattr(cfg, "eval_batch_size", 0), lora_r=cfg.lora.r,
                 lora_targets=tuple(cfg.lora.targets))


@dataclass
class Plan:
    model: str
    device: str
    memory: int
    memory_source: str
    shape: ModelShape
    setup: Setup
    params: int
    lora_params: int
    weights_bytes: dict
    terms: dict
    peak_bytes: int
    without_checkpointing: int
    with_checkpointing: int
    fits: bool
    fix: dict | None

    def to_json(self) -> dict:
        d = asdict(self)
        d["weights_bytes"] = self.weights_bytes
        d["fix_flags"] = fix_text(self.fix) if self.fix else None
        return d


def make_plan(cfg, model: str | None = None, device: str | None = None, memory: int | None = None) -> Plan:
    """The plan of a training config: `model` overrides cfg.model; `device` cuda | cpu (default:
    cuda if a GPU is visible, or if `memory` is given, since a memory budget is a GPU question);
    `memory` overrides the device's memory."""
    import torch

    device = device or ("cuda" if torch.cuda.is_available() or memory else "cpu")
    shape = read_shape(model or cfg.model)
    setup = setup_for(cfg, device)
    if memory is None:
        memory, source = device_memory(device)
    else:
        source = "--gpu-memory"
    terms = estimate(shape, setup)
    batch = cfg.batch_size
    return Plan(model=model or cfg.model, device=device, memory=memory, memory_source=source, shape=shape,
                setup=setup, params=shape.params, lora_params=lora_params(shape, setup.lora_r, setup.lora_targets),
                weights_bytes={m: weights_bytes(shape, m) for m in WEIGHT_MODES}, terms=terms,
                peak_bytes=terms["peak"],
                without_checkpointing=estimate(shape, replace(setup, gradient_checkpointing=False))["peak"],
                with_checkpointing=estimate(shape, replace(setup, gradient_checkpointing=True))["peak"],
                fits=terms["peak"] <= memory, fix=first_fix(shape, setup, memory, batch))


def largest_micro_batch(lm, cfg, per_process: int) -> int | None:
    """The largest divisor of `per_process` whose plan fits the loaded model's device (None: not
    even 1). Used by `micro_batch_size: auto` as the probe's starting point."""
    shape = shape_from_config(lm.model.config.to_dict(), lm.name)
    value = 4 if str(lm.dtype) == "torch.float32" else 2
    memory, _ = device_memory(lm.device.type)
    for micro in divisors_down(per_process, per_process):
        if estimate(shape, setup_for(cfg, lm.device.type, micro, value))["peak"] <= memory:
            return micro
    return None


def gib(n: int | float) -> str:
    return f"{n / GIB:.2f} GiB"


def check_fits(cfg, force: bool = False, log=print) -> Plan | None:
    """`tallrec train` before it loads the model: stop with one line naming the first fix when the
    plan does not fit the device found (`force`: warn and go on). A model whose shape the plan
    cannot read is left to the loader (which names the problem) after a one-line notice."""
    try:
        plan = make_plan(cfg)
    except ModelError as e:
        log(f"[plan] skipped: {e}")
        return None
    if plan.fits:
        return plan
    need = f"{plan.model}: training needs about {gib(plan.peak_bytes)}, {plan.memory_source} has {gib(plan.memory)}"
    if force:
        log(f"[plan] warning: {need}; training anyway (--force)")
        return plan
    hint = f"try {fix_text(plan.fix)}" if plan.fix else "no memory lever makes it fit"
    raise TallrecError(f"{need}; {hint} (`tallrec plan` shows the estimate; --force trains anyway)")
