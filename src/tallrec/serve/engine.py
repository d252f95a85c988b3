"""The engine behind `tallrec serve`: one base model, LoRA adapters known by name, P(Yes) from
`tallrec.Recommender` (its shared-user-prefix engine) per adapter.

`--adapter NAME=RUN` (or `--adapter RUN`, named after its folder) and `--adapter none` (the untuned
base model, named `base`) become `AdapterSpec`s, checked before the server starts. Loading reuses
`Recommender`: `base_model` picks the base, `Recommender.on` reads each adapter's settings.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import TallrecError
from ..prompts.registry import DEFAULT_STYLE

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
BASE = "base"


@dataclass(frozen=True)
class AdapterSpec:
    name: str
    path: Path | None   # None: the untuned base model


def parse_adapter_specs(specs: list[str]) -> list[AdapterSpec]:
    """`RUN` or `NAME=RUN` per --adapter, in order (the first is the default); RUN `none` is the
    untuned base model (named `base` unless NAME= says otherwise); a missing folder, a bad or
    repeated name is one line."""
    out: list[AdapterSpec] = []
    for spec in specs:
        name, sep, run = spec.partition("=")
        if (run if sep else spec) == "none":
            out.append(AdapterSpec(name if sep else BASE, None))
            if not NAME.match(out[-1].name):
                raise TallrecError(f"--adapter {spec}: adapter name {name!r} must be letters, digits, '.', '_' or '-'")
            continue
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
    if not out:
        raise TallrecError("give --adapter RUN (repeatable, NAME=RUN; `none`: the untuned base model)")
    names = [s.name for s in out]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise TallrecError(f"two adapters named {dup!r}: name them with --adapter NAME=RUN")
    return out


def check_adapter(path: Path) -> None:
    """Refuse, before the server starts, a folder that holds no adapter or one whose prompt style
    this installation does not know (one line)."""
    from ..llm.adapters import adapter_prompt, find_adapter

    adapter_prompt(find_adapter(path))


class ScoringEngine:
    """One base model in memory with every adapter attached by name (peft named adapters; a lone
    adapter is merged into the weights, as `tallrec evaluate` does), and one `tallrec.Recommender`
    per adapter over that shared model (its prompt style, cutoff and item noun). Only the batcher's
    worker thread calls it, so switching the active adapter between batches is safe.
    """

    def __init__(self, lm, peft_model, specs: list[AdapterSpec], recommenders: dict, name: str, catalogue=None):
        self.lm, self.peft, self.specs, self.recommenders = lm, peft_model, specs, recommenders
        self.adapters = [s.name for s in specs]
        self.model = name
        self.catalogue = catalogue  # a CataloguePipeline for /v1/recommend (`--catalogue`), or None

    def _active(self, adapter: str):
        """Make `adapter` the one the shared model runs; a context manager for `base`."""
        if self.peft is None:
            return contextlib.nullcontext()
        if adapter == BASE and BASE not in self.peft.peft_config:
            return self.peft.disable_adapter()
        self.peft.set_adapter(adapter)
        return contextlib.nullcontext()

    def score_many(self, adapter: str, users: list[dict]) -> list[list[float]]:
        """P(Yes) of every user's candidates (users: {"liked", "disliked", "candidates"}, titles)."""
        with self._active(adapter):
            return self.recommenders[adapter].score_many(
                [({"liked": u["liked"], "disliked": u["disliked"]}, u["candidates"]) for u in users])

    def info(self) -> dict:
        import peft
        import torch
        import transformers

        from .. import __version__

        def describe(s: AdapterSpec) -> dict:
            rec = self.recommenders[s.name]
            return {"path": None if s.path is None else str(s.path), "prompt": rec.lm.prompt or DEFAULT_STYLE,
                    "domain": rec.domain, "cutoff": rec.cutoff}

        return {"model": self.model, "dtype": str(self.lm.dtype).removeprefix("torch."), "device": str(self.lm.device),
                "adapters": {s.name: describe(s) for s in self.specs},
                "versions": {"tallrec": __version__, "torch": torch.__version__,
                             "transformers": transformers.__version__, "peft": peft.__version__}}


def load_engine(specs: list[AdapterSpec], model: str | None = None, precision: str = "auto",
                device: str | None = None, max_batch: int = 32, domain: str = "movie",
                catalogue: Path | None = None) -> ScoringEngine:
    """Load the base model once and attach every adapter (runs in the server's loader thread);
    each adapter gets a `Recommender.on` view of the shared model. `domain` is the item noun of
    `base` and of adapters that recorded none."""
    from dataclasses import replace

    from ..llm.adapters import adapter_prompt, check_adapter_base, find_adapter, load_base
    from ..llm.models import is_quantized
    from ..recommend.recommender import Recommender, base_model

    folders = {s.name: find_adapter(s.path) for s in specs}
    name = base_model(folders.values(), model)
    lm = load_base(name, folders.values(), precision, device)  # quantized as the adapters were trained
    tuned = [(s, folders[s.name]) for s in specs if s.path is not None]
    for _, folder in tuned:
        check_adapter_base(folder, lm)
    net = attach_named(lm, tuned, merge=len(specs) == 1 and not is_quantized(lm.model))
    recommenders = {}
    for s in specs:
        folder = folders[s.name]
        view = replace(lm, model=lm.model if net is None else net,
                       prompt=None if folder is None else adapter_prompt(folder))
        recommenders[s.name] = Recommender.on(view, folder, batch_size=max_batch, domain=domain)
    pipe = None
    if catalogue is not None:
        from ..recommend.catalogue import load_recommender_folder

        pipe = load_recommender_folder(catalogue)
    return ScoringEngine(lm, None if net is None or len(specs) == 1 else net, specs, recommenders, name, pipe)


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
