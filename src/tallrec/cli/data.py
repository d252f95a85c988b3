"""`tallrec data ...`: prepare, download and inspect datasets.

Thin: every command validates and renders all of its outputs through the package (tallrec.data.*)
before writing any of them, and lets `TallrecError` become one line on stderr (see cli/__init__).
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Annotated

import typer

from ..core.errors import DataError
from . import app
from .options import DataDirOpt

data_app = typer.Typer(help="Prepare, download and inspect datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")

prepare_app = typer.Typer(
    help="Turn raw data into TALLRec train/valid/test.json (the authors' JSON format).", no_args_is_help=True
)
data_app.add_typer(prepare_app, name="prepare")

download_app = typer.Typer(help="Download public raw datasets into the data folder.", no_args_is_help=True)
data_app.add_typer(download_app, name="download")

OutOpt = Annotated[Path, typer.Option("--out", help="Output folder for train.json, valid.json, test.json.")]


def _command(group: typer.Typer, name: str):
    """Register a command whose --help is its docstring with each paragraph reflowed to one line.

    Typer's help keeps a docstring's line breaks, which reads badly once it wraps the lines again.
    """

    def register(f):
        paras = inspect.cleandoc(f.__doc__ or "").split("\n\n")
        return group.command(name, help="\n\n".join(" ".join(p.split()) for p in paras))(f)

    return register


def _write(out: Path, files: dict[str, bytes], counts: dict[str, int]) -> None:
    from ..data.builders.windows import write_outputs

    for path in write_outputs(out, files):
        n = counts.get(path.stem)
        typer.echo(f"wrote {path}" + (f" ({n} samples)" if n is not None else ""))


def _write_splits(out: Path, splits: dict) -> None:
    from ..data.builders.windows import render_splits

    empty = [name for name, samples in splits.items() if not samples]
    if empty:
        n = sum(map(len, splits.values()))
        raise DataError(f"{out}: not written: only {n} sample(s), which leaves {' and '.join(empty)} empty")

    _write(out, render_splits(splits), {k: len(v) for k, v in splits.items()})


RawMovieLensOpt = Annotated[
    Path | None, typer.Option("--raw", help="Folder with u.data and u.item (default: DATA_DIR/ml-100k).")
]

@_command(prepare_app, "movielens")
def prepare_movielens(
    out: OutOpt,
    raw: RawMovieLensOpt = None,
    data_dir: DataDirOpt = None,
    unpublished: Annotated[int, typer.Option(
        "--unpublished", min=0, help="Also write unpublished.json: this many samples from no published file.")] = 0,
):
    """MovieLens-100K -> the official TALLRec movie split (8,000 / 1,000 / 1,000 samples).

    Windows of the 10 previous ratings of each user in time order (like = rating > 3); the last
    10,000 windows split 8:1:1 in order. valid.json and test.json are byte-identical to the authors'.
    With --unpublished N, unpublished.json holds N windows (seeded draw) from before those 10,000:
    a test set nobody tuned on (`tallrec evaluate --data .../unpublished.json`).
    """
    from ..core.paths import data_dir as resolve
    from ..data.builders.movielens import build_movielens, unpublished_movielens

    folder = raw or resolve(data_dir) / "ml-100k"
    splits = build_movielens(folder)
    if unpublished:
        splits["unpublished"] = unpublished_movielens(folder, unpublished)
    _write_splits(out, splits)


@_command(prepare_app, "ranking")
def prepare_ranking(
    out: Annotated[Path, typer.Option("--out", help="Output folder for train.json, valid.json, test.jsonl, manifest.json.")],
    raw: RawMovieLensOpt = None,
    data_dir: DataDirOpt = None,
    negatives: Annotated[int, typer.Option("--negatives", help="Unrated movies drawn per list.")] = 19,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the negative sampling.")] = 0,
):
    """MovieLens-100K ranking benchmark: each liked test target among 19 movies the user never rated.

    The windows and the 8:1:1 split of `prepare movielens`; for each test window whose target the
    user liked, the target plus --negatives unrated movies drawn with random.Random(SEED), shuffled.
    test.jsonl is `tallrec rank` input with a "target" id; train.json/valid.json are the TALLRec
    split (few-shot pool, popularity counts); manifest.json records the rule and every sha256.
    """
    from ..core.paths import data_dir as resolve
    from ..data.builders.ranking import build_ranking

    files = build_ranking(raw or resolve(data_dir) / "ml-100k", negatives=negatives, seed=seed)
    lists = files["test.jsonl"].count(b"\n")
    _write(out, files, {"train": files["train.json"].count(b'"instruction"'),
                        "valid": files["valid.json"].count(b'"instruction"')})
    typer.echo(f"{lists} ranking lists of {negatives + 1} candidates each")


@_command(prepare_app, "book")
def prepare_book(
    out: OutOpt,
    official: Annotated[
        Path | None, typer.Option("--official", help="Folder with the authors' book valid.json and test.json.")
    ] = None,
    raw: Annotated[
        Path | None, typer.Option("--raw", help="Folder with BX-Book-Ratings.csv and BX-Books.csv.")
    ] = None,
    valid_size: Annotated[
        int, typer.Option("--valid-size", help="--official: samples of valid.json kept for validation.")
    ] = 500,
    seed: Annotated[
        int, typer.Option("--seed", help="--official: seed of the valid.json split; --raw: seed of the user split.")
    ] = 42,
):
    """Book-Crossing samples, from the authors' files (--official) or the raw BX csv files (--raw).

    --official: the authors' book train.json is unpublished, so their valid.json (2,427 samples) is
    split: its positions are shuffled with random.Random(SEED) and the first --valid-size (500) form
    valid.json, the rest (1,927) train.json, both in original file order. test.json is copied byte
    for byte.

    --raw: users with more than 3 ratings, like = rating > 5, each user's books shuffled (seed 42),
    the last one the target, up to 10 before it the history; users split 8:1:1 with SEED.
    Malformed lines are skipped with a warning.
    """
    from ..data.builders import bookcrossing
    from ..data.builders.windows import render_splits

    if (official is None) == (raw is None):
        raise DataError("give exactly one of --official DIR (the authors' book files) or --raw DIR (BX csv files)")
    if official is not None:
        if out.resolve() == official.resolve():
            raise DataError(f"{out}: --out must differ from --official (it would overwrite the authors' valid.json)")
        splits, test_bytes = bookcrossing.split_official_book(official, valid_size, seed)
        files = render_splits({"train": splits["train"], "valid": splits["valid"]})
        files["test.json"] = test_bytes
        _write(out, files, {k: len(v) for k, v in splits.items()})
    else:
        _write_splits(out, bookcrossing.build_bookcrossing(raw, seed=seed))


def _scale(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in text.split(","))
    except ValueError:
        raise DataError(f"--rating-scale must be LOW,HIGH such as 1,5, got {text!r}") from None
    return lo, hi


@_command(prepare_app, "csv")
def prepare_csv(
    interactions: Annotated[
        Path, typer.Option("--interactions", help="CSV with a header: user,item,rating[,timestamp].")
    ],
    items: Annotated[
        Path, typer.Option("--items", help="CSV with a header: item,title[,more...]; more columns go in parentheses.")
    ],
    out: OutOpt,
    like_threshold: Annotated[
        float, typer.Option("--like-threshold", help="A rating above this counts as liked (Yes.).")
    ] = 3.5,
    domain: Annotated[str, typer.Option("--domain", help="The noun in the prompt: movie, book, ...")] = "movie",
    history: Annotated[int, typer.Option("--history", help="History length: items before each target.")] = 10,
    rating_scale: Annotated[
        str, typer.Option("--rating-scale", help="LOW,HIGH; ratings outside are an error.")
    ] = "1,5",
    seed: Annotated[
        int | None, typer.Option("--seed", help="Shuffle the windows with this seed before the 8:1:1 split "
                                 "(default: split in order, like MovieLens).")
    ] = None,
    max_windows: Annotated[
        int | None, typer.Option("--max-windows", help="Keep only the last N windows (MovieLens: 10000).")
    ] = None,
):
    """Your own ratings -> TALLRec samples, windowed like MovieLens and split 8:1:1.

    Users in order of first appearance; each user's ratings in timestamp order (file order without
    a timestamp column); every rating with HISTORY earlier ones is a target with those as history.
    Item text: the title, then any further items columns in parentheses: "Title (Drama, 1994)".
    """
    from ..data.builders.csv import build_from_csv

    splits = build_from_csv(
        interactions, items, like_threshold=like_threshold, domain=domain, history=history,
        rating_scale=_scale(rating_scale), seed=seed, max_windows=max_windows,
    )
    _write_splits(out, splits)


@_command(download_app, "movielens")
def download_movielens(
    data_dir: DataDirOpt = None,
    url: Annotated[str | None, typer.Option("--url", help="ml-100k: archive URL (default: the GroupLens ml-100k.zip).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing DATA_DIR/<release>.")] = False,
    release: Annotated[str, typer.Option(
        "--release", help="ml-100k, ml-1m, ml-10m, ml-20m, ml-25m or ml-32m.")] = "ml-100k",
    base_url: Annotated[str | None, typer.Option(
        "--base-url", help="Other releases: the folder holding <release>.zip and <release>.zip.md5 "
        "(default: $TALLREC_MOVIELENS_BASE_URL, else GroupLens).")] = None,
):
    """Fetch a MovieLens release from GroupLens into DATA_DIR/<release> and verify it.

    ml-100k: the archive is extracted into a temporary folder and moved into place only after
    u.data, u.item and u.user match their published sha256 checksums. Other releases: the archive
    must match the md5 GroupLens publishes beside it (<release>.zip.md5); an interrupted download
    resumes from DATA_DIR/<release>.zip.part; a failure installs nothing.
    """
    from ..core.paths import data_dir as resolve
    from ..data.fetch import MOVIELENS_URL, download_release
    from ..data.fetch import download_movielens as fetch

    if release == "ml-100k":
        dest = fetch(resolve(data_dir), url or MOVIELENS_URL, force=force)
        typer.echo(f"MovieLens-100K verified at {dest}")
        return
    if url is not None:
        raise DataError("--url is for ml-100k; give --base-url (the folder of the archives) for other releases")
    dest = download_release(release, resolve(data_dir), base_url, force=force)
    typer.echo(f"MovieLens {release} verified at {dest}")


SourceArg = Annotated[Path, typer.Argument(help="A log: a folder as its archive unpacks, or a file.")]
FormatOpt = Annotated[str | None, typer.Option("--format", help="The log's format (default: detected from the file names).")]
PresetOpt = Annotated[str | None, typer.Option(
    "--preset", help="A paper's recipe: tallrec-movie, tallrec-book, collm-ml1m, sasrec-loo.")]
ColumnsOpt = Annotated[str | None, typer.Option(
    "--columns", help="csv/parquet/jsonl: FIELD=COLUMN,... such as user=uid,item=movie_id.")]
LikeOpt = Annotated[str | None, typer.Option("--like", help="Liked = rating > this, or 'all' (overrides the preset's rule).")]


@_command(data_app, "convert")
def convert(
    source: SourceArg,
    out: Annotated[Path, typer.Option("--out", help="Output folder: events/bucket=K/part.parquet, items.parquet, summary.json.")],
    format: FormatOpt = None,
    preset: PresetOpt = None,
    columns: ColumnsOpt = None,
    like: LikeOpt = None,
    buckets: Annotated[int, typer.Option("--buckets", min=1, help="Hash buckets of users.")] = 16,
):
    """Read any supported interaction log, apply a preset's filters, write bucketed Parquet.

    The output reads back with `--format parquet-buckets` (or pyarrow.dataset, Spark, Dask:
    hive-partitioned by `bucket`). summary.json holds the counts before and after the recipe.
    Everything is validated and filtered before the folder is written, all at once.
    """
    from ..data.readers.buckets import write_parquet

    log, summary = _filtered_log(source, format, preset, columns, like)
    summary["buckets"] = buckets
    write_parquet(log, out, buckets=buckets, extra={"summary.json": (json.dumps(summary, indent=2) + "\n").encode()})
    before, after = summary["read"], summary["kept"]
    typer.echo(f"wrote {out}: {after['interactions']} interactions, {after['users']} users, "
               f"{after['items']} items in {buckets} buckets (read {before['interactions']})")


@_command(prepare_app, "log")
def prepare_log(
    source: SourceArg,
    out: OutOpt,
    format: FormatOpt = None,
    preset: PresetOpt = None,
    columns: ColumnsOpt = None,
    like: LikeOpt = None,
    domain: Annotated[str, typer.Option("--domain", help="The noun in the prompt: movie, book, ...")] = "movie",
    history: Annotated[int, typer.Option("--history", min=1, help="History length: items before each target.")] = 10,
    max_windows: Annotated[int | None, typer.Option("--max-windows", min=10, help="Keep only the last N windows "
                                                    "(MovieLens: 10000).")] = None,
):
    """Any supported interaction log -> TALLRec samples, windowed by the movie rule and split 8:1:1.

    The log is read like `tallrec data convert` reads it (format detected from the file names, a
    preset's filters); users in order of first appearance, each user's ratings in time order (ties
    in file order); every rating with HISTORY earlier ones is a target with those as its history.
    Each split's side file <split>.users.json keeps the user ids.
    """
    from ..data.builders.log_windows import log_windows
    from ..data.builders.windows import split_811

    log, _ = _filtered_log(source, format, preset, columns, like)
    windows = list(log_windows(log, history, domain))
    train, valid, test = split_811(windows[-max_windows:] if max_windows else windows)
    _write_splits(out, {"train": train, "valid": valid, "test": test})


@_command(data_app, "inspect")
def inspect_log(source: SourceArg, format: FormatOpt = None, preset: PresetOpt = None, columns: ColumnsOpt = None,
                like: LikeOpt = None):
    """Print what `convert` would write in summary.json (counts before and after the recipe) as
    JSON; writes nothing."""
    typer.echo(json.dumps(_filtered_log(source, format, preset, columns, like)[1], indent=2))


def _filtered_log(source: Path, format: str | None, preset: str | None, columns: str | None, like: str | None):
    """(the log after the preset's recipe, the summary of what was read and kept)."""
    from ..data.filters import apply_recipe, counts
    from ..data.presets import get_preset
    from ..data.readers import detect_format, read_log

    recipe = dict(get_preset(preset)["recipe"]) if preset else {}
    if preset and get_preset(preset)["format"] and format is None:
        format = get_preset(preset)["format"]
    if like is not None:
        recipe["like"] = like
    format = format or detect_format(source)
    log = read_log(source, format=format, columns=_columns(columns))
    before = counts(log)
    log = apply_recipe(log, recipe)
    summary = {"source": str(source), "format": format, "preset": preset, "recipe": recipe,
               "read": before, "kept": counts(log)}
    if preset:  # what the paper reports, beside what this run kept
        summary["paper"] = {k: get_preset(preset)[k] for k in ("cite", "reported", "note")}
    return log, summary


def _columns(text: str | None) -> dict | None:
    if not text:
        return None
    pairs = [p.split("=", 1) for p in text.split(",") if p.strip()]
    if any(len(p) != 2 or not p[0].strip() or not p[1].strip() for p in pairs):
        raise DataError(f"--columns must be FIELD=COLUMN,... such as user=uid,item=movie_id, got {text!r}")
    return {k.strip(): v.strip() for k, v in pairs}


@_command(data_app, "stats")
def stats(
    file: Annotated[Path, typer.Argument(help="A samples file in the authors' JSON format.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
):
    """Sample count, Yes share, history-length distribution and domain of a samples file."""
    from ..data.samples import load_samples
    from ..data.stats import compute_stats, format_stats

    result = compute_stats(load_samples(file))
    if as_json:
        typer.echo(json.dumps({"file": str(file), **result}, indent=2))
    else:
        typer.echo(format_stats(result, str(file)))
