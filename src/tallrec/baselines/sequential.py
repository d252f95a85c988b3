"""Sequential recommenders in the TALLRec task form: (history with liked flags, target) -> P(like).

One model, `SeqRec`, is assembled from two parts:

* an item module giving each item row a `dim`-vector: `IdItems` (a learned id embedding, UNK for
  items unseen in training) or `TextItems` (a frozen text embedding, e.g. all-MiniLM-L6-v2, through
  a trainable linear projection: the "-BERT" variants);
* a sequence encoder turning the history into a user vector: `GRUEncoder` (GRU4Rec), `CaserEncoder`
  (Caser) or `SASRecEncoder` (SASRec).

Each history item enters as its item vector plus a learned flag embedding (liked / disliked), as
the TALLRec authors fed their baselines. The score of the target is, with the default head
"dot+user",

    s = <u, e_target> + w.u + b

the dot product of the user (sequence) vector u with the target's item vector, plus a learned user
bias w.u and a global bias b; P(like) = sigmoid(s); the loss is binary cross-entropy on the label.
head="dot" drops w.u: the classic pure dot-product scorer. The user bias matters in the few-shot
setting: most test targets were never seen in the K training samples (id models give them the UNK
vector, zero by default), so their score can only come from the user's history, and the pure dot
product has nothing to say about them: with head="dot" the id models score AUC 0.48-0.53 at every
K on the official data, as the TALLRec paper reports for them (studies/baselines/baseline_table.py --head dot).
There are no user ids (users are anonymous in TALLRec samples), so Caser has no user embedding.

DROS (Yang et al., SIGIR 2023, "A Generic Learning Framework for Sequential Recommendation with
Distribution Shifts") adds to the base loss a distributionally robust term over the training
distribution. Here it sits on the GRU4Rec backbone (dros, dros-bert; the pairs dros/gru4rec and
dros-bert/gru-bert therefore differ only by that term). For each training user u the term is the
KL-DRO dual, DROS's Eq.:

    L_DRO(u) = log sum_j p_j * exp(l(u, j) / beta),   l(u, j) = (sigmoid(s_uj) - y_uj)^2

over the candidate items j of the training data, with the nominal distribution p_j = the item's
share of all item occurrences in the K training samples (DROS builds p from time-aware popularity;
the TALLRec samples carry no time stamps, so plain popularity is used). y_uj is what u is known to
think of j: the label for the target, the liked flag for the user's history items, and 0 for all
other items (DROS's implicit-negative assumption). Loss = BCE + alpha * mean_u L_DRO(u)
(alpha=0.1, beta=1 by default). DROS's code applies the squared loss to raw scores and multiplies
p inside the exponent; the squared loss on sigmoid(s) keeps the term bounded here, and p weights the
expectation as in the paper's formula.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .items import FLAG_LIKED, PAD, UNK, Encoded


class IdItems(nn.Module):
    """Learned item-id embedding. Row UNK: the zero vector (unk_dropout=0, the default), or, with
    unk_dropout > 0, a learned vector trained by replacing known ids by UNK with that probability."""

    def __init__(self, rows: int, dim: int, unk_dropout: float = 0.0):
        super().__init__()
        self.emb = nn.Embedding(rows, dim, padding_idx=PAD)
        nn.init.normal_(self.emb.weight, std=0.1)
        with torch.no_grad():
            self.emb.weight[PAD].zero_()
        self.unk_dropout = unk_dropout

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if self.unk_dropout <= 0:  # UNK is the zero vector
            return self.emb(ids) * (ids != UNK).unsqueeze(-1).to(self.emb.weight.dtype)
        if self.training:
            drop = (torch.rand(ids.shape, device=ids.device) < self.unk_dropout) & (ids > UNK)
            ids = torch.where(drop, torch.full_like(ids, UNK), ids)
        return self.emb(ids)


class TextItems(nn.Module):
    """Frozen text vectors [rows, d_text] (row 0 = padding) through a trainable projection to `dim`."""

    def __init__(self, vectors: torch.Tensor, dim: int):
        super().__init__()
        self.register_buffer("vectors", vectors.float(), persistent=False)
        self.proj = nn.Linear(vectors.shape[1], dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.proj(self.vectors[ids]) * (ids != PAD).unsqueeze(-1).to(self.vectors.dtype)


class GRUEncoder(nn.Module):
    """GRU4Rec: the last hidden state of a GRU over the history."""

    def __init__(self, dim: int, hidden: int, max_len: int, dropout: float):
        super().__init__()
        self.gru = nn.GRU(dim, hidden, batch_first=True)
        self.out = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = nn.utils.rnn.pack_padded_sequence(
            x, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False
        )
        _, h = self.gru(packed)
        return self.out(h[-1])


class CaserEncoder(nn.Module):
    """Caser: horizontal filters of heights 1..L (max-pooled over time) + vertical filters."""

    def __init__(self, dim: int, hidden: int, max_len: int, dropout: float, n_h: int = 16, n_v: int = 4):
        super().__init__()
        self.horizontal = nn.ModuleList(nn.Conv2d(1, n_h, (h, dim)) for h in range(1, max_len + 1))
        self.vertical = nn.Conv2d(1, n_v, (max_len, 1))
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(n_h * max_len + n_v * dim, dim)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        m = x.unsqueeze(1)  # [N, 1, L, d]
        hs = [F.relu(conv(m)).squeeze(3).amax(dim=2) for conv in self.horizontal]  # each [N, n_h]
        v = self.vertical(m).flatten(1)  # [N, n_v * d]
        return F.relu(self.out(self.drop(torch.cat(hs + [v], dim=1))))


class SASRecEncoder(nn.Module):
    """SASRec: causal self-attention blocks with learned positions; the output at the newest item."""

    def __init__(self, dim: int, hidden: int, max_len: int, dropout: float, blocks: int = 2, heads: int = 1):
        super().__init__()
        self.pos = nn.Embedding(max_len, dim)
        nn.init.normal_(self.pos.weight, std=0.1)  # the scale of the item embeddings, not N(0, 1)
        self.drop = nn.Dropout(dropout)
        self.attn = nn.ModuleList(nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True) for _ in range(blocks))
        self.norm1 = nn.ModuleList(nn.LayerNorm(dim) for _ in range(blocks))
        self.norm2 = nn.ModuleList(nn.LayerNorm(dim) for _ in range(blocks))
        self.ffn = nn.ModuleList(
            nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, dim)) for _ in range(blocks)
        )
        self.last = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        lengths = lengths.clamp(min=1)
        return self.states(x, lengths)[torch.arange(x.shape[0], device=x.device), lengths - 1]

    def states(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The output at every position [N, L, d] (position t sees items 0..t): what next-item
        training over whole sequences needs (recommend/retrievers.py)."""
        n, L, _ = x.shape
        lengths = lengths.clamp(min=1)
        positions = torch.arange(L, device=x.device)
        x = self.drop(x + self.pos(positions))
        pad = positions.unsqueeze(0) >= lengths.unsqueeze(1)  # [N, L] True = padding
        causal = torch.triu(torch.ones(L, L, dtype=torch.bool, device=x.device), diagonal=1)
        for attn, n1, n2, ffn in zip(self.attn, self.norm1, self.norm2, self.ffn):
            q = n1(x)
            a, _ = attn(q, q, q, attn_mask=causal, key_padding_mask=pad, need_weights=False)
            x = x + a
            x = x + ffn(n2(x))
            x = x * (~pad).unsqueeze(-1).to(x.dtype)
        return self.last(x)


ENCODERS = {"gru": GRUEncoder, "caser": CaserEncoder, "sasrec": SASRecEncoder}


@dataclass
class DRO:
    """DROS's robust term: nominal distribution `p` over item rows (zeros outside the candidates)."""

    p: torch.Tensor
    alpha: float = 0.1
    beta: float = 1.0


HEADS = ("dot+user", "dot")


class SeqRec(nn.Module):
    """Item module + sequence encoder + flag embedding; score = <u, target> (+ w.u) + b (see module doc)."""

    def __init__(
        self, items: nn.Module, encoder: nn.Module, dim: int, dropout: float, dro: DRO | None = None, head: str = "dot+user"
    ):
        super().__init__()
        self.items = items
        self.encoder = encoder
        self.flags = nn.Embedding(3, dim, padding_idx=0)
        nn.init.normal_(self.flags.weight, std=0.1)  # the scale of the item embeddings
        with torch.no_grad():
            self.flags.weight[0].zero_()
        self.drop = nn.Dropout(dropout)
        self.bias = nn.Parameter(torch.zeros(()))
        if head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {head!r}")
        self.user_bias = nn.Linear(dim, 1, bias=False) if head == "dot+user" else None
        self.dro = dro
        if dro is not None:
            cand = torch.nonzero(dro.p > 0).squeeze(1)
            self.register_buffer("cand", cand, persistent=False)
            self.register_buffer("cand_p", dro.p[cand] / dro.p[cand].sum(), persistent=False)
            pos = torch.full((dro.p.shape[0],), -1, dtype=torch.long)
            pos[cand] = torch.arange(len(cand))
            self.register_buffer("cand_pos", pos, persistent=False)

    def user(self, b: Encoded) -> torch.Tensor:
        x = self.drop(self.items(b.hist) + self.flags(b.flags))
        return self.encoder(x, b.lengths)

    def forward(self, b: Encoded) -> torch.Tensor:
        """Logits [N] of P(like)."""
        return self._score(self.user(b), self.items(b.target))

    def _score(self, u: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        s = (u * e).sum(-1) + self.bias
        if self.user_bias is not None:
            s = s + self.user_bias(u).squeeze(-1)
        return s

    def loss(self, b: Encoded) -> torch.Tensor:
        u = self.user(b)
        logits = self._score(u, self.items(b.target))
        loss = F.binary_cross_entropy_with_logits(logits, b.labels)
        if self.dro is not None:
            loss = loss + self.dro.alpha * self._dro_term(u, b)
        return loss

    def _dro_term(self, u: torch.Tensor, b: Encoded) -> torch.Tensor:
        logits = u @ self.items(self.cand).T + self.bias
        if self.user_bias is not None:
            logits = logits + self.user_bias(u)
        probs = torch.sigmoid(logits)  # [N, C]
        y = torch.zeros_like(probs)
        rows = torch.arange(len(b), device=u.device)
        hp = self.cand_pos[b.hist]
        known = (hp >= 0) & (b.flags > 0)
        y[rows.unsqueeze(1).expand_as(hp)[known], hp[known]] = (b.flags[known] == FLAG_LIKED).to(y.dtype)
        tp = self.cand_pos[b.target]
        seen = tp >= 0
        y[rows[seen], tp[seen]] = b.labels[seen]
        losses = (probs - y) ** 2
        beta = self.dro.beta
        # log sum_j p_j exp(l_j / beta), computed stably
        return torch.logsumexp(losses / beta + torch.log(self.cand_p), dim=1).mean()
