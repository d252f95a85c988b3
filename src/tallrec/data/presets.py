"""Recipes of published papers: which source, which like rule, which filters, and the counts the
paper (or its released code) reports, so a run can be compared with them. The tests check the
rules on small fixtures, not these counts; the split itself (train/valid/test) is not applied
here. A preset is a plain dict: `format` (the reader), `recipe` (see `data/filters.py`),
`cite`, `reported` and `note`.
"""

from __future__ import annotations

from ..core.errors import DataError

PRESETS: dict[str, dict] = {
    "tallrec-movie": {
        "format": "movielens-100k",
        "recipe": {"like": 3},
        "cite": "Bao et al., TALLRec, RecSys 2023, arXiv 2305.00447",
        "reported": {"interactions": 100_000, "users": 943, "items": 1_682,
                     "samples": "8,000 / 1,000 / 1,000 (the last 10,000 windows of 10)"},
        "note": "no filter: the movie split (`tallrec data prepare movielens`) windows every user",
    },
    "tallrec-book": {
        "format": "bookcrossing",
        "recipe": {"like": 5, "kcore": {"user": 4, "item": 0, "iterative": False}},
        "cite": "Bao et al., TALLRec, RecSys 2023, arXiv 2305.00447",
        "reported": {"published valid samples": 2_427},
        "note": "users with more than 3 ratings (implicit 0 ratings count), like = rating > 5; "
                "ratings of books missing from BX-Books.csv are dropped, as the book builder does",
    },
    "collm-ml1m": {
        "format": "movielens-dat",
        "recipe": {"like": 3, "time": {"start": "2001-06-01", "end": "2003-02-01"}},
        "cite": "Zhang et al., CoLLM, arXiv 2310.19488 (dataset/ml-1m/processing_ood.ipynb in "
                "github.com/zyang1580/CoLLM)",
        "reported": {"interactions": 51_623, "users": 838, "items": 3_255,
                     "train": 33_891, "valid": 10_401, "test": 7_331},
        "note": "ML-1M, label = rating >= 4 (= rating > 3), the 20 months June 2001 - January 2003 "
                "(UTC); their global time split: train Jun 2001 - Mar 2002, valid Apr - Aug 2002, "
                "test Sep 2002 - Jan 2003 (not applied here); no k-core, negatives kept",
    },
    "sasrec-loo": {
        "format": None,
        "recipe": {"like": "all", "kcore": {"user": 5, "item": 5, "iterative": True}},
        "cite": "Kang and McAuley, Self-Attentive Sequential Recommendation, ICDM 2018, "
                "arXiv 1808.09781",
        "reported": {"ml-1m users": 6_040, "ml-1m items": 3_416, "ml-1m actions": "1.0M"},
        "note": "any source: every interaction is a positive, users and items with at least 5 "
                "(iterated to a 5-core); the leave-one-out split comes after this",
    },
}


def get_preset(name: str) -> dict:
    if name not in PRESETS:
        raise DataError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return PRESETS[name]
