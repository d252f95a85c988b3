"""The engine behind `tallrec serve`: one base model, LoRA adapters known by name, P(Yes) from
`tallrec.llm.scoring.Scorer` (the scorer `tallrec score` uses).

`--adapter NAME=RUN` (or `--adapter RUN`, named after its folder) and `--no-adapter` (the untuned
base model, named `base`) become `AdapterSpec`s, checked before the server starts.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import TallrecError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
BASE = "base"


@dataclass(frozen=True)
class AdapterSpec:
    name: str
    path: Path | None   # None: the untuned base model


def parse_adapter_specs(specs: list[str], no_adapter: bool = False) -> list[AdapterSpec]:
    """`RUN` or `NAME=RUN` per --adapter, in order (the first is the default), plus `base` for
    --no-adapter; a missing folder, a bad or repeated name is one line."""
    out: list[AdapterSpec] = []
    for spec in specs:
        name, sep, run = spec.partition("=")
        path = Path(run if sep else spec).expanduser()
        if not sep:
            name = path.parent.name if path.name == "adapter" else path.name
        if not NAME.match(name):
            raise TallrecError(f"--adapter {spec}: adapter name {name!r} must be letters, digits, '.', '_' or '-' "
                               f"(give NAME=RUN)")
        if not path.is_dir():
            raise TallrecError(f"--adapter {spec}: {path}: no such folder")
        check_adapter(path)
        out.append(AdapterSpec(name, path))
    if no_adapter:
        out.append(AdapterSpec(BASE, None))
    if not out:
        raise TallrecError("give --adapter RUN (repeatable, or NAME=RUN) or --no-adapter")
    names = [s.name for s in out]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise TallrecError(f"two adapters named {dup!r}: name them with --adapter NAME=RUN")
    return out


def check_adapter(path: Path) -> None:
    """Refuse, before the server starts, a folder that holds no adapter or one whose prompt style
    this installation does not know (one line)."""
    from ..llm.adapters import adapter_prompt

    adapter_prompt(adapter_folder(path))


def adapter_folder(path: Path) -> Path:
    """A run folder's adapter/ (what `tallrec train` writes), or the adapter folder itself."""
    from ..llm.adapters import require_adapter_dir

    return path / "adapter" if (path / "adapter" / "adapter_config.json").is_file() else require_adapter_dir(path)


class ScoringEngine:
    """One base model in memory with every adapter attached by name (peft named adapters; a lone
    adapter is merged into the weights, as `tallrec evaluate` does). Only the batcher's worker
    thread calls it, so switching the active adapter between batches is safe.

    Each user is scored in one `Scorer` call: the user's history is the prompt prefix all their
    candidates share, so it runs once and the candidates are batched against its KV cache.
    """

    def __init__(self, lm, model, specs: list[AdapterSpec], scorers: dict, styles: dict, name: str,
                 domain: str = "movie"):
        self.lm, self.peft, self.specs, self.scorers, self.styles = lm, model, specs, scorers, styles
        self.adapters = [s.name for s in specs]
        self.model = name
        self.domain = domain

    def _active(self, adapter: str):
        """Make `adapter` the one the shared model runs; a context manager for `base`."""
        if self.peft is None:
            return contextlib.nullcontext()
        if adapter == BASE and BASE not in self.peft.peft_config:
            return self.peft.disable_adapter()
        self.peft.set_adapter(adapter)
        return contextlib.nullcontext()

    def score_many(self, adapter: str, users: list[dict]) -> list[list[float]]:
        """P(Yes) of every user's candidates, one Scorer call per user (its history is the
        shared prefix of its candidates' prompts)."""
        scorer = self.scorers[adapter]
        with self._active(adapter):
            return [[float(x) for x in scorer.score(user_samples(u, self.domain))] for u in users]

    def info(self) -> dict:
        import peft
        import torch
        import transformers

        from .. import __version__

        return {"model": self.model, "domain": self.domain, "dtype": str(self.lm.dtype).removeprefix("torch."),
                "device": str(self.lm.device),
                "adapters": {s.name: {"path": None if s.path is None else str(s.path),
                                      "prompt": self.styles[s.name]} for s in self.specs},
                "versions": {"tallrec": __version__, "torch": torch.__version__,
                             "transformers": transformers.__version__, "peft": peft.__version__}}


def user_samples(user: dict, domain: str = "movie") -> list:
    """The Samples of one request (liked, disliked, candidates: titles): one per candidate, the
    same history, no label. The offline scorer scores the same Samples."""
    from ..data.samples import Sample

    history = tuple((t, True) for t in user["liked"]) + tuple((t, False) for t in user["disliked"])
    return [Sample(history=history, target=c, domain=domain) for c in user["candidates"]]


def base_model_name(specs: list[AdapterSpec], model: str | None) -> str:
    """--model, else the base recorded beside the first adapter by `tallrec train`, else the default."""
    from ..llm.adapters import adapter_meta
    from ..llm.models import DEFAULT_MODEL

    if model:
        return model
    for s in specs:
        if s.path is not None and adapter_meta(adapter_folder(s.path)).get("name"):
            return adapter_meta(adapter_folder(s.path))["name"]
    return DEFAULT_MODEL


def load_engine(specs: list[AdapterSpec], model: str | None = None, precision: str = "auto",
                device: str | None = None, max_batch: int = 32, domain: str = "movie") -> ScoringEngine:
    """Load the base model once and attach every adapter (runs in the server's loader thread)."""
    from ..llm.adapters import adapter_prompt, check_adapter_base
    from ..llm.models import load_model
    from ..llm.scoring import ScoreOptions, Scorer
    from ..prompts.registry import DEFAULT_STYLE, load_template

    name = base_model_name(specs, model)
    lm = load_model(name, precision, device)
    tuned = [(s, adapter_folder(s.path)) for s in specs if s.path is not None]
    for _, folder in tuned:
        check_adapter_base(folder, lm)
    net = attach_named(lm, tuned, merge=len(specs) == 1)
    styles = {s.name: DEFAULT_STYLE if s.path is None else adapter_prompt(adapter_folder(s.path)) for s in specs}
    scorers = {s.name: Scorer(net if net is not None else lm.model, lm.tokenizer,
                              ScoreOptions(batch_size=max_batch, progress=False),
                              template=load_template(styles[s.name], lm.tokenizer)) for s in specs}
    return ScoringEngine(lm, None if net is None or len(specs) == 1 else net, specs, scorers, styles, name, domain)


def attach_named(lm, tuned: list[tuple[AdapterSpec, Path]], merge: bool):
    """The base model with each adapter loaded under its name (None when there is none)."""
    from peft import PeftModel

    from ..core.errors import ModelError

    if not tuned:
        return None
    try:
        net = PeftModel.from_pretrained(lm.model, str(tuned[0][1]), adapter_name=tuned[0][0].name)
        for spec, folder in tuned[1:]:
            net.load_adapter(str(folder), adapter_name=spec.name)
    except (RuntimeError, ValueError, KeyError) as e:
        raise ModelError(f"an adapter does not fit base model {lm.name!r} ({str(e).splitlines()[0]})") from None
    net.eval()
    return net.merge_and_unload().eval() if merge else net
