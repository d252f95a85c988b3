"""The quality-k64 study grids load by path and stay comparable with one another."""

from pathlib import Path

from tallrec.experiments.grid.cells import expand_grid
from tallrec.experiments.grid.context import Context
from tallrec.experiments.grid.schema import load_grid

GRIDS = Path(__file__).resolve().parents[1] / "quality-k64"


def _grid(name: str):
    return load_grid(config=GRIDS / f"{name}.yaml")[0]


def test_unpublished_grid_is_movie_only():
    grid = _grid("quality-k64-unpublished")
    cells = expand_grid(grid)
    assert grid.test_split == "unpublished" and {c.domain for c in cells} == {"movie"} and len(cells) == 15


def test_tallrec_grid_matches_the_augment_grid(tmp_path):
    """quality-k64-tallrec is read beside quality-k64-augment: same recipe, seeds and test samples."""
    grid, augment = _grid("quality-k64-tallrec"), _grid("quality-k64-augment")
    cells = expand_grid(grid)
    assert sorted({(c.method, c.domain) for c in cells}) == [("r", "movie"), ("tallrec", "book"),
                                                             ("tallrec", "movie")]
    assert len(cells) == 9 and {c.shots for c in cells} == {64}
    assert (grid.rec_config, grid.seeds, grid.test_limit) == (augment.rec_config, augment.seeds, augment.test_limit)
    assert Context(grid, tmp_path).instruct_cfg("smollm2-135m").checkpoint_every == 10


def test_tallrec_unpublished_grid_reuses_the_tallrec_grids_stage1(tmp_path):
    grid, official = _grid("quality-k64-tallrec-unpublished"), _grid("quality-k64-tallrec")
    cells = expand_grid(grid)
    assert grid.test_split == "unpublished" and len(cells) == 3
    assert {(c.method, c.domain) for c in cells} == {("tallrec", "movie")}
    same = Context(grid, tmp_path).instruct_cfg("smollm2-135m") == Context(official, tmp_path).instruct_cfg("smollm2-135m")
    assert same and grid.instruct_adapter is None  # stage 1 trained alike, so one run's folder serves both
