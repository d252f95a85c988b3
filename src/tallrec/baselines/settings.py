"""Settings of the baselines: one dataclass per kind, each field with its help and range.

configs/baselines/sequential.yaml and simple.yaml spell the defaults out (a test keeps them equal);
`tallrec paper baseline NAME --config FILE` and the grid's `baseline_options` set them, and every field
is also a flag of `tallrec paper baseline`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.config import setting

HEADS = ("dot+user", "dot")


@dataclass
class SeqSettings:
    """GRU4Rec, Caser, SASRec, DROS and their -bert variants (one training loop, train_loop.py)."""

    epochs: int = setting(50, "most epochs", min=1)
    patience: int = setting(5, "epochs without a better validation AUC before stopping", min=1)
    lr: float = setting(1e-3, "Adam learning rate", gt=0.0)
    batch_size: int = setting(32, "minibatch size", min=1)
    weight_decay: float = setting(0.0, "Adam weight decay", min=0.0)
    valid_size: int = setting(1000, "seeded validation subset for early stopping (0 = all)", min=0)
    device: str = setting("cpu", "cpu, cuda or cuda:N")
    dim: int = setting(64, "item embedding size (id items; text items are projected to it)", min=1)
    hidden: int = setting(64, "hidden size of the history encoder", min=1)
    max_history: int = setting(10, "most recent history items the encoder reads", min=1)
    dropout: float = setting(0.2, "dropout of the encoder and head", min=0.0, below=1.0)
    unk_dropout: float = setting(0.0, "share of training item ids replaced by the unknown id", min=0.0, below=1.0)
    head: str = setting("dot+user", "scorer: dot product plus a user bias, or the dot product alone", choices=HEADS)
    alpha: float = setting(0.1, "DROS: weight of the distributionally robust loss term", min=0.0)
    beta: float = setting(1.0, "DROS: temperature of the robust term", gt=0.0)
    encoder: str | None = setting(None, "text encoder folder of the -bert baselines (none: the packaged "
                                  "all-MiniLM-L6-v2)")
    balanced: bool = setting(False, "draw K/2 liked and K/2 not-liked shots")


@dataclass
class SimpleSettings:
    """The floors: like-share (no training) and logistic regression on history statistics."""

    C: float = setting(1.0, "logreg: inverse regularization strength", gt=0.0)
    smoothing: float = setting(2.0, "logreg: pseudo-counts of the target's like rate", min=0.0)
    balanced: bool = setting(False, "draw K/2 liked and K/2 not-liked shots")


@dataclass
class CollabSettings:
    """hist-cf: logistic regression on leak-free collaborative signals (collab/), fitted on --valid."""

    C: float = setting(1.0, "hist-cf: inverse regularization strength", gt=0.0)
    smoothing: float = setting(5.0, "hist-cf: pseudo-ratings pulling a like rate toward the log's rate", min=0.0)
    log: str | None = setting(None, "hist-cf: the interaction log the samples were built from (default: "
                              "DATA_DIR/ml-100k)")
    mf_dim: int = setting(8, "hist-cf: size of the MF user and item vectors", min=1)
    mf_l2: float = setting(1e-2, "hist-cf: L2 weight of the MF fit", min=0.0)
    mf_epochs: int = setting(150, "hist-cf: full-batch Adam steps of each MF snapshot", min=1)
    snapshot_period: str = setting("MS", "hist-cf: pandas frequency of the CF snapshots (MS = monthly)")
    balanced: bool = setting(False, "unused by hist-cf (it draws no shots); kept for a uniform command")


KIND_SETTINGS = {"seq": SeqSettings, "simple": SimpleSettings, "collab": CollabSettings}


def settings_class(kind: str):
    return KIND_SETTINGS[kind]


CONFIG_NAMES = {"seq": "sequential", "simple": "simple", "collab": "collab"}
