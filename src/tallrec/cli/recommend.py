"""`tallrec recommend build` fits a catalogue retriever and writes a recommender folder;
`tallrec recommend --catalogue FOLDER --users users.jsonl --out recs.jsonl` recommends from it
(under `torchrun --nproc_per_node N` the users are split over the processes, rank 0 writes).

The pipeline itself is tallrec.recommend.catalogue; this module only parses options.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from ..core.defaults import DEFAULT_BATCH_SIZE, DEFAULT_BLEND_USERS
from ..core.errors import DataError
from . import app
from .options import (
    BatchSizeOpt,
    CatalogueOpt,
    DataDirOpt,
    DeviceOpt,
    LimitOpt,
    MaybeAdapterOpt,
    ModelOpt,
    PrecisionOpt,
)

recommend_app = typer.Typer(help="Recommend from a catalogue: retrieve, then rerank with the LLM "
                            "(`build` writes the catalogue folder).", no_args_is_help=True)
app.add_typer(recommend_app, name="recommend")


@recommend_app.callback(invoke_without_command=True)
def recommend(
    ctx: typer.Context,
    catalogue: CatalogueOpt = None,
    users: Annotated[Path | None, typer.Option("--users", help="users.jsonl: {user, liked, disliked} a line.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="recs.jsonl: {user, items} a line, in input order.")] = None,
    k: Annotated[int, typer.Option("--k", min=1, help="Items recommended per user.")] = 10,
    adapter: MaybeAdapterOpt = None,
    limit: LimitOpt = None,
    model: ModelOpt = None,
    device: DeviceOpt = None,
    precision: PrecisionOpt = "auto",
    batch_size: BatchSizeOpt = DEFAULT_BATCH_SIZE,
):
    """Recommend the top k unrated catalogue items for each user of users.jsonl.

    Under `torchrun --nproc_per_node N` the users are split over the processes and rank 0 writes
    the merged output in input order."""
    if ctx.invoked_subcommand is not None:
        return
    if catalogue is None or users is None or out is None:
        raise DataError("give --catalogue FOLDER, --users users.jsonl and --out recs.jsonl (or `recommend build`)")
    from ..core.distributed import process_group, shard_and_gather
    from ..core.io import check_writable, write_text_atomic
    from ..recommend.catalogue import load_recommender_folder
    from ..recommend.recommender import Recommender, recommend_from
    from ..recommend.userfile import read_history_users
    from ..tuning.distributed import barrier, is_main

    lines = read_history_users(users)[:limit]
    check_writable(out, folder=False)
    pipe = load_recommender_folder(catalogue)
    if not pipe.blend.uses_llm and adapter is not None:
        typer.echo(f"note: the folder's blend keeps the retriever alone; --adapter {adapter} is not used", err=True)
    with process_group():
        if pipe.blend.uses_llm:
            rec = Recommender.load(adapter, model=model, device=device, precision=precision, batch_size=batch_size,
                                   catalogue=catalogue)
            recommend_one = rec.recommend
        else:   # the retriever alone needs no model: none is loaded
            recommend_one = partial(recommend_from, pipe)

        def work(mine, main: bool) -> list[str]:
            from tqdm.auto import tqdm

            bar = tqdm(mine, desc="recommending", unit="user", disable=not main or not pipe.blend.uses_llm)
            return [json.dumps({"user": line.user, "items": [r.model_dump() for r in recommend_one(line.as_user, k=k)]})
                    + "\n" for line in bar]

        rows = shard_and_gather(lines, work)
        if is_main():
            write_text_atomic(out, "".join(rows))
            typer.echo(f"recommended {k} items to each of {len(lines)} users -> {out}")
        barrier()


def resolve_data(data: str, data_dir: Path | None) -> Path:
    """A log (folder or file), or a folder's name under the data folder (ml-100k)."""
    from ..core.paths import data_dir as default_dir

    p = Path(data).expanduser()
    if p.exists():
        return p
    q = default_dir(data_dir) / data
    if q.is_dir():
        return q
    raise DataError(f"{data}: no such data folder or log file (give a log, e.g. a MovieLens-100K folder, or a name under "
                    f"{default_dir(data_dir)}, e.g. ml-100k)")


@recommend_app.command("build")
def build(
    out: Annotated[Path, typer.Option("--out", help="Recommender folder to write.")],
    data: Annotated[str, typer.Option("--data", help="Interaction log (folder or file) or its name in the data folder.")] = "ml-100k",
    format: Annotated[str | None, typer.Option("--format", help="The log's format (default: detected).")] = None,
    retriever: Annotated[str, typer.Option("--retriever", help="popularity, itemknn or sasrec.")] = "itemknn",
    last: Annotated[int | None, typer.Option("--last", min=1,
                    help="item-kNN: history items used (default: chosen on validation).")] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", min=1, help="SASRec: most epochs.")] = None,
    items: Annotated[Path | None, typer.Option("--items",
                     help="CSV with id,title replacing u.item's titles.")] = None,
    blend: Annotated[Path | None, typer.Option("--blend", help="blend.json to use instead of fitting one "
                     "(default: fitted with --adapter, else the retriever alone).")] = None,
    adapter: Annotated[str | None, typer.Option(
        "--adapter", help="Run folder (holding adapter/) or adapter folder of the LLM rerank; `none`: the untuned "
        "base model. The blend of the retriever and its P(Yes) is fitted and gated on --blend-users validation "
        "users and written into the folder.")] = None,
    n: Annotated[int, typer.Option("--n", min=1, help="Candidates the LLM reranks.")] = 20,
    blend_users: Annotated[int, typer.Option("--blend-users", min=1, help="Validation users the blend is "
                                             "fitted on.")] = DEFAULT_BLEND_USERS,
    model: ModelOpt = None,
    device: DeviceOpt = None,
    precision: PrecisionOpt = "auto",
    batch_size: BatchSizeOpt = DEFAULT_BATCH_SIZE,
    data_dir: DataDirOpt = None,
):
    """Fit the retriever on the leave-one-out training parts and write the recommender folder."""
    from ..recommend.catalogue import build_recommender_folder

    settings = {}
    if last is not None:
        if retriever != "itemknn":
            raise DataError("--last applies to --retriever itemknn only")
        settings["last"] = last
    if epochs is not None:
        if retriever != "sasrec":
            raise DataError("--epochs applies to --retriever sasrec only")
        settings["epochs"] = epochs
    from ..recommend.recommender import llm_scorer

    opts = {"model": model, "device": device, "precision": precision, "batch_size": batch_size}
    scorer = None if adapter is None else partial(llm_scorer, adapter, **opts)
    path = build_recommender_folder(out, resolve_data(data, data_dir), retriever, settings, items, blend,
                                    adapter, n, format, fit_blend_on=blend_users, scorer=scorer)
    cfg = json.loads((path / "config.json").read_text())
    kept = json.loads((path / "blend.json").read_text()).get("fitted", {}).get("kept", "")
    typer.echo(f"wrote {path} ({cfg['retriever']} {json.dumps(cfg['settings'])}, {cfg['items']} items; "
               f"blend: {kept or 'the retriever alone'})")
