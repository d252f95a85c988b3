"""The tiny model, loaded once for the recommender tests (fp32, CPU)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_lm(tiny_model_dir):
    from tallrec.llm.models import load_model

    return load_model(str(tiny_model_dir), precision="fp32", device="cpu")
