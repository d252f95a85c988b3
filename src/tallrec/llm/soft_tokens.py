"""CoLLM's soft tokens: collaborative signals projected into the LLM's input, one token per user
and one per target item.

Each prompt of the `collm` style holds two placeholder tokens, added to the tokenizer (never `unk`,
which may equal `eos` or `pad`) with the embeddings resized. Before a forward pass, sample j's two
placeholders are rewritten to ids `offset + 2j` and `offset + 2j + 1`, past the vocabulary, and the
input embedding is wrapped so those ids read rows of a per-call table: the projector's output for
those samples. Everything downstream (batching, the shared prefix, packing, LoRA, the trainer) sees
plain token ids, so the one-pass scorer and the shared-prefix engine need no second path.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn

from ..core.errors import ModelError

USER_TOKEN, ITEM_TOKEN = "<|user_cf|>", "<|item_cf|>"
CONFIG_FILE, WEIGHTS_FILE = "collm.json", "projector.pt"


class Projector(nn.Module):
    """Two 2-layer MLPs (CoLLM's projector): user inputs -> one token, item inputs -> one token."""

    def __init__(self, user_dim: int, item_dim: int, hidden: int, width: int = 128, zero_init: bool = False):
        super().__init__()
        self.dims = {"user_dim": user_dim, "item_dim": item_dim, "hidden": hidden, "width": width}
        self.user = nn.Sequential(nn.Linear(user_dim, width), nn.GELU(), nn.Linear(width, hidden))
        self.item = nn.Sequential(nn.Linear(item_dim, width), nn.GELU(), nn.Linear(width, hidden))
        if zero_init:  # the soft tokens start as zero vectors: training begins near the text-only model
            for mlp in (self.user, self.item):
                nn.init.zeros_(mlp[-1].weight)
                nn.init.zeros_(mlp[-1].bias)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """(2N, hidden): sample j's user token at row 2j, its item token at row 2j + 1."""
        u, i = self.user(users), self.item(items)
        return torch.stack([u, i], dim=1).reshape(-1, u.shape[-1])


class SoftTokenEmbedding(nn.Module):
    """The model's input embedding, plus ids >= `offset` read from `table` (set per call)."""

    def __init__(self, base: nn.Module, offset: int):
        super().__init__()
        self.base, self.offset = base, offset
        self.table: torch.Tensor | None = None

    @property
    def weight(self) -> torch.Tensor:  # code that reads the embedding matrix (tying, resizing) sees the base one
        return self.base.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        soft = ids >= self.offset
        if not bool(soft.any()):
            return self.base(ids)
        if self.table is None:
            raise ModelError("a soft-token id reached the model with no collaborative signals bound")
        out = self.base(ids.masked_fill(soft, 0))
        rows = self.table[ids[soft] - self.offset].to(out.dtype)
        return out.masked_scatter(soft.unsqueeze(-1), rows)  # row-major, as ids[soft] is


def add_placeholders(model, tokenizer) -> tuple[int, int]:
    """Add the two placeholder tokens (once) and resize the embeddings; their ids."""
    from .models import unwrap_causal_lm

    if USER_TOKEN not in tokenizer.get_vocab():
        tokenizer.add_tokens([USER_TOKEN, ITEM_TOKEN], special_tokens=True)
    base = unwrap_causal_lm(model)
    if base.get_input_embeddings().weight.shape[0] < len(tokenizer):
        base.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    return tokenizer.convert_tokens_to_ids(USER_TOKEN), tokenizer.convert_tokens_to_ids(ITEM_TOKEN)


def wrap_embeddings(model) -> SoftTokenEmbedding:
    """Wrap the input embedding of `model` (once); the wrapper."""
    from .models import unwrap_causal_lm

    base = unwrap_causal_lm(model)
    emb = base.get_input_embeddings()
    if isinstance(emb, SoftTokenEmbedding):
        return emb
    wrapper = SoftTokenEmbedding(emb, offset=emb.weight.shape[0])
    base.set_input_embeddings(wrapper)
    return wrapper


class SoftTokens:
    """A model's collm attachment: the projector, the placeholder ids, and the signals it reads."""

    def __init__(self, model, tokenizer, projector: Projector, signals, folder: Path | None = None):
        self.placeholders = add_placeholders(model, tokenizer)
        self.embedding = wrap_embeddings(model)
        device = next(model.parameters()).device
        self.projector, self.signals, self.folder = projector.to(device), signals, folder
        model.tallrec_soft_tokens = self

    def inputs(self, samples, where: str = "samples", live: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        from ..collab.signals import token_inputs

        u, i = token_inputs(self.signals, samples, where, live)
        dev = next(self.projector.parameters()).device
        return torch.from_numpy(u).to(dev), torch.from_numpy(i).to(dev)

    def rewrite(self, prompts: list[list[int]]) -> list[list[int]]:
        """Sample j's placeholders -> its own soft-token ids; a prompt without both is refused."""
        user, item = self.placeholders
        off = self.embedding.offset
        out = []
        for j, p in enumerate(prompts):
            if p.count(user) != 1 or p.count(item) != 1:
                raise ModelError("a collm adapter scores prompts of the `collm` style only (one user and one "
                                 "item placeholder each)")
            out.append([off + 2 * j if t == user else off + 2 * j + 1 if t == item else t for t in p])
        return out

    def bind(self, samples, prompts: list[list[int]], where: str = "samples", live: bool = False) -> list[list[int]]:
        """Set the table for `samples` (no gradient) and return their rewritten prompts. `live`:
        candidates nobody rated yet (ranking, serving), placed by `collab.locate.place(live=True)`."""
        u, i = self.inputs(samples, where, live)
        with torch.no_grad():
            self.embedding.table = self.projector(u, i)
        return self.rewrite(prompts)


def soft_tokens_of(model) -> SoftTokens | None:
    from .models import unwrap_causal_lm

    return getattr(model, "tallrec_soft_tokens", None) or getattr(unwrap_causal_lm(model), "tallrec_soft_tokens", None)


def save_projector(folder: str | os.PathLike, projector: Projector, config: dict) -> None:
    """projector.pt and collm.json into an adapter folder (atomically, each)."""
    import io

    from ..core.io import write_bytes_atomic, write_json_atomic

    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in projector.state_dict().items()}, buf)
    write_bytes_atomic(Path(folder) / WEIGHTS_FILE, buf.getvalue())
    write_json_atomic(Path(folder) / CONFIG_FILE, {**config, "projector": projector.dims})


def is_collm(folder: str | os.PathLike | None) -> bool:
    return folder is not None and (Path(folder) / CONFIG_FILE).is_file()


def attach_collm(lm, folder: str | os.PathLike):
    """Attach the collm projector saved in adapter `folder` to a loaded model (the log is read from
    the path recorded there, and must still have the checksum recorded there)."""
    from ..collab.signals import CFSignals
    from ..collab.snapshots import MFSettings
    from ..data.readers import read_log

    cfg = json.loads((Path(folder) / CONFIG_FILE).read_text())
    log = read_log(cfg["log"])
    if log.checksum() != cfg["log_sha256"]:
        raise ModelError(f"{folder}: the log {cfg['log']} changed since this collm adapter was trained "
                         f"(sha256 {log.checksum()[:12]}, recorded {cfg['log_sha256'][:12]})")
    signals = CFSignals(log, MFSettings(**cfg["mf"]), cfg["smoothing"])
    projector = Projector(**cfg["projector"])
    projector.load_state_dict(torch.load(Path(folder) / WEIGHTS_FILE, map_location="cpu", weights_only=True))
    projector.to(dtype=torch.float32).eval()
    SoftTokens(lm.model, lm.tokenizer, projector, signals, Path(folder))
    return lm


__all__ = ["ITEM_TOKEN", "USER_TOKEN", "Projector", "SoftTokens", "attach_collm", "is_collm", "save_projector",
           "soft_tokens_of"]
