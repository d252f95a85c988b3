"""The one training/evaluation loop every sequential baseline shares.

Adam on the model's own loss (`model.loss(batch)`), minibatches in a seeded order, at most
`epochs` epochs; after each epoch the validation AUC is computed and the best state is kept; training
stops after `patience` epochs without improvement, and the best state scores the test data.

Determinism: everything runs inside `torch.random.fork_rng` (the caller's RNG state is left
untouched) with `torch.manual_seed(seed)` before the model is built and
`torch.use_deterministic_algorithms(True)`, so the same seed gives identical scores. These models
are tiny: they run on one CPU thread (restored afterwards), which is both fastest (no thread
synchronisation, no slowdown when other processes share the cores) and free of thread-count effects.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..core.errors import DataError, TallrecError
from ..core.metrics import auc
from ..data.samples import Sample
from .items import Encoded, ItemVocab, TextIndex, encode, popularity, sample_texts
from .sequential import DRO, ENCODERS, HEADS, IdItems, SeqRec, TextItems

# name -> (item kind, encoder, DRO term)
SPECS = {
    "gru4rec": ("id", "gru", False),
    "caser": ("id", "caser", False),
    "sasrec": ("id", "sasrec", False),
    "dros": ("id", "gru", True),
    "gru-bert": ("text", "gru", False),
    "dros-bert": ("text", "gru", True),
}


@dataclass
class TrainResult:
    test_scores: list[float]
    best_epoch: int
    valid_auc: float | None
    epochs_run: int
    valid_curve: list[float]


@contextlib.contextmanager
def seeded(seed: int, device: torch.device):
    devices = [device.index or 0] if device.type == "cuda" else []
    was, warn = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        # On CUDA some kernels (cuBLAS without CUBLAS_WORKSPACE_CONFIG) have no deterministic
        # version: warn there instead of failing; bit-identical reruns are promised on CPU.
        torch.use_deterministic_algorithms(True, warn_only=device.type == "cuda")
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(was, warn_only=warn)
            torch.set_num_threads(threads)


def resolve_device(name: str) -> torch.device:
    try:
        device = torch.device(name)
    except RuntimeError:
        raise TallrecError(f"unknown device {name!r}; use cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TallrecError("device cuda requested but no CUDA GPU is available; use --device cpu")
    if device.type not in ("cpu", "cuda"):
        raise TallrecError(f"unsupported device {name!r}; use cpu or cuda")
    return device


@torch.no_grad()
def predict(model: SeqRec, data: Encoded, chunk: int = 2048) -> torch.Tensor:
    """P(like) for every sample of `data` (model in eval mode)."""
    model.eval()
    out = [torch.sigmoid(model(data.take(slice(i, i + chunk)))) for i in range(0, len(data), chunk)]
    return torch.cat(out).cpu()


def _valid_metric(model: SeqRec, valid: Encoded) -> tuple[float, float | None]:
    """(value to maximise, AUC or None): AUC when both classes are present, else -BCE."""
    p = predict(model, valid)
    labels = valid.labels.cpu()
    if 0 < int(labels.sum()) < len(labels):
        a = auc(labels.tolist(), p.tolist())
        return a, a
    return -float(torch.nn.functional.binary_cross_entropy(p.clamp(1e-7, 1 - 1e-7), labels)), None


def train(
    model: SeqRec,
    train_data: Encoded,
    valid: Encoded,
    test: Encoded,
    *,
    epochs: int,
    patience: int,
    lr: float,
    batch_size: int,
    weight_decay: float = 0.0,
    seed: int = 0,
) -> TrainResult:
    """Fit `model` (already seeded and on its device) and score `test` with its best-validation state."""
    if epochs < 1 or batch_size < 1 or patience < 1 or lr <= 0:
        raise TallrecError("epochs, batch size and patience must be >= 1 and lr > 0")
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    best, best_auc, best_epoch, best_state, curve, waited = float("-inf"), None, 0, None, [], 0
    epoch = 0
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(train_data), generator=gen)
        for i in range(0, len(order), batch_size):
            batch = train_data.take(order[i : i + batch_size].to(train_data.target.device))
            opt.zero_grad(set_to_none=True)
            loss = model.loss(batch)
            loss.backward()
            opt.step()
        value, v_auc = _valid_metric(model, valid)
        curve.append(round(value, 6))
        if value > best:
            best, best_auc, best_epoch, waited = value, v_auc, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            waited += 1
            if waited >= patience:
                break
    if best_state is None:
        raise TallrecError("training diverged: the validation metric is NaN; try a smaller --lr")
    model.load_state_dict(best_state)
    return TrainResult(predict(model, test).tolist(), best_epoch, best_auc, epoch, curve)


def item_index(name: str, train_samples: Sequence[Sample], all_samples: Sequence[Sample], opts: dict):
    """The text -> row index baseline `name` uses, and (text models) the frozen vectors of its rows.

    Called before seeding: loading and running the text encoder must not shift the model's RNG.
    """
    if SPECS[name][0] == "id":
        return ItemVocab.from_samples(train_samples), None, {}
    from .text_encoder import cached_matrix, load_encoder

    encoder = load_encoder(opts.get("encoder"))
    index = TextIndex(sample_texts(all_samples))
    vectors = torch.cat([torch.zeros(1, encoder.dim), cached_matrix(encoder, index.texts)])
    return index, vectors, {"encoder": getattr(encoder, "name", type(encoder).__name__)}


def build_model(name: str, train_samples: Sequence[Sample], index, vectors, opts: dict) -> tuple[SeqRec, dict]:
    """The model for baseline `name` (see SPECS) over `index`, and descriptive extras."""
    kind, enc_name, with_dro = SPECS[name]
    dim, extras = int(opts["dim"]), {"backbone": enc_name}
    if kind == "id":
        items = IdItems(len(index), dim, unk_dropout=float(opts["unk_dropout"]))
        extras["vocab_items"] = len(index) - 2
    else:
        items = TextItems(vectors, dim)
    dro = None
    if with_dro:
        dro = DRO(popularity(train_samples, index, len(index)), float(opts["alpha"]), float(opts["beta"]))
        extras.update(dro_alpha=dro.alpha, dro_beta=dro.beta)
    encoder_module = ENCODERS[enc_name](dim, int(opts["hidden"]), int(opts["max_history"]), float(opts["dropout"]))
    head = str(opts["head"])
    if head not in HEADS:
        raise TallrecError(f"unknown head {head!r}; use one of {', '.join(HEADS)}")
    return SeqRec(items, encoder_module, dim, float(opts["dropout"]), dro, head=head), extras


def run_sequential(
    name: str, train_samples: list[Sample], valid: list[Sample], test: list[Sample], seed: int, opts: dict
) -> tuple[list[float], dict]:
    """Train baseline `name` on `train_samples`, early-stop on `valid`, return (test scores, extras)."""
    if len(train_samples) < 1:
        raise DataError("no training samples")
    max_len = int(opts["max_history"])
    if max_len < 1:
        raise TallrecError("max history must be >= 1")
    device = resolve_device(str(opts["device"]))
    index, vectors, extras = item_index(name, train_samples, [*train_samples, *valid, *test], opts)
    with seeded(seed, device):
        model, more = build_model(name, train_samples, index, vectors, opts)
        extras.update(more)
        model.to(device)
        data = [encode(s, index, max_len).to(device) for s in (train_samples, valid, test)]
        res = train(
            model,
            *data,
            epochs=int(opts["epochs"]),
            patience=int(opts["patience"]),
            lr=float(opts["lr"]),
            batch_size=int(opts["batch_size"]),
            weight_decay=float(opts["weight_decay"]),
            seed=seed,
        )
    extras.update(
        best_epoch=res.best_epoch,
        valid_auc=res.valid_auc,
        epochs_run=res.epochs_run,
        valid_n=len(valid),
        valid_curve=res.valid_curve,
        options={k: opts[k] for k in ("epochs", "patience", "lr", "batch_size", "dim", "hidden", "max_history", "dropout", "head")}
        | ({"unk_dropout": opts["unk_dropout"]} if SPECS[name][0] == "id" else {}),
    )
    return res.test_scores, extras
