"""Grid configs: expansion of blocks and the cross-domain unit, the packaged budgets, bad settings."""

from pathlib import Path

import pytest

from tallrec.core.errors import TallrecError
from tallrec.experiments import methods
from tallrec.experiments.grid.cells import expand_grid
from tallrec.experiments.grid.schema import load_grid

from .helpers import write_grid_yaml, write_rec_yaml


def test_grid_expansion_from_config(tmp_path, tiny_model_dir):
    cfg = write_grid_yaml(tmp_path / "grid.yaml", seeds=[0, 1], models=[str(tiny_model_dir)], test_limit=10, blocks=[
        {"methods": ["like-share", "gru4rec"], "domains": ["movie", "book"], "shots": [16, 64]},
        {"methods": ["icl", "at"], "domains": ["movielens"]},       # alias of movie; K-independent
        {"methods": ["r"], "domains": ["movie"], "shots": [64], "seeds": [3], "test_limit": 5},
        {"methods": ["like-share"], "domains": ["movie"], "shots": [16]},  # duplicate of block 0: once
    ], cross_domain={"shots": [8], "seeds": [0]}, rec_config="rec.yaml")
    write_rec_yaml(tmp_path / "rec.yaml")
    grid, where = load_grid(config=cfg)
    assert where == str(cfg) and grid.rec_config == str((tmp_path / "rec.yaml").resolve())
    cells = expand_grid(grid)
    keys = [c.key for c in cells]
    assert len(keys) == len(set(keys)) == 2 * 2 * 2 * 2 + 2 + 1 + 1
    # baselines have no model; K-independent methods one cell (shots 0, seed 0); blocks inherit the top level
    ls = [c for c in cells if c.method == "like-share"]
    assert {c.model for c in ls} == {None} and {c.seed for c in ls} == {0, 1} and {c.test_limit for c in ls} == {10}
    assert [c.key for c in cells if c.method in ("icl", "at")] == [
        f"icl/movie/k0/s0/{tiny_model_dir}", f"at/movie/k0/s0/{tiny_model_dir}"]
    r = [c for c in cells if c.method == "r"]
    assert len(r) == 1 and r[0].seed == 3 and r[0].test_limit == 5 and r[0].shots == 64
    xd = cells[-1]
    assert xd.rows == ["xd-movie", "xd-book", "xd-both"] and len(xd.keys) == 6
    assert xd.keys[0] == f"xd-movie/movie/k8/s0/{tiny_model_dir}"
    # cheap methods first; folders as documented (a non-default model gets a suffix)
    assert cells[0].method == "like-share" and cells[-2].method == "r"
    assert ls[0].rel_dir() == Path("cells/like-share/movie/k16-s0")
    assert r[0].rel_dir().parent == Path("cells/r/movie") and r[0].rel_dir().name.startswith("k64-s3-tiny-llama")
    assert xd.rel_dir().parent == Path("cells/cross-domain")


def test_icl_depends_on_the_seed_only_with_demonstrations(tmp_path):
    for demos, seeds in ((0, {0}), (2, {0, 1})):
        cfg = write_grid_yaml(tmp_path / f"g{demos}.yaml", methods=["icl"], domains=["movie"], seeds=[0, 1],
                              icl_demos=demos)
        grid, _ = load_grid(config=cfg)
        assert {c.seed for c in expand_grid(grid)} == seeds


def test_packaged_budgets_expand():
    quick, _ = load_grid("quick")
    qcells = expand_grid(quick)
    assert {c.method for c in qcells if c.model} == {"icl", "r"}
    assert [c.key for c in qcells if c.method == "r"] == ["r/movie/k64/s0/smollm2-135m", "r/book/k64/s0/smollm2-135m"]
    assert {c.test_limit for c in qcells} == {1000}  # every row on the same test samples
    assert sum(methods.get(c.method).kind in ("baseline", "floor") for c in qcells) == 8 * 2 * 3
    assert len(qcells) == 52
    full, _ = load_grid("full")
    fcells = expand_grid(full)
    assert len([c for c in fcells if c.method == "tallrec"]) == 2 * 3 * 5
    assert len([c for c in fcells if c.method == "cross-domain"]) == 3 * 5


@pytest.mark.parametrize("values, message", [
    ({"methods": ["r", "bert4rec"]}, "unknown method 'bert4rec'"),
    ({"methods": ["xd-movie"]}, "unknown method 'xd-movie'"),  # a row of the cross-domain unit, not a method
    ({"domains": ["movie", "music"]}, "unknown domain 'music'"),
    ({"shots": [0]}, "shots: 0 is not allowed"),
    ({"blocks": [{"methods": ["r"], "shot": [16]}]}, "blocks[0]: unknown setting(s) shot"),
    ({"cross_domain": {"shots": [8], "valid_from": "last"}}, "valid_from 'last'"),
    ({"epochs": 3}, "unknown setting(s) epochs"),
    ({"models": ["/no/such/model"]}, "model '/no/such/model': no such model"),
    ({"baseline_options": {"tallrec": {"epochs": 2}}}, "baseline_options: unknown baseline 'tallrec'"),
    ({"icl_demos": -1}, "icl_demos must be a whole number >= 0"),
    ({"test_split": "private"}, "test_split 'private': expected one of official, unpublished"),
    ({"test_split": "unpublished", "methods": ["like-share"], "domains": ["movie", "book"]},
     "test_split unpublished has movie samples only; remove book"),
])
def test_bad_grid_is_one_line(tmp_path, values, message):
    cfg = write_grid_yaml(tmp_path / "bad.yaml", **values)
    with pytest.raises(TallrecError) as e:
        load_grid(config=cfg)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_unpublished_test_split_is_recorded_with_each_cell(tmp_path):
    from tallrec.experiments.grid.context import Context

    official, _ = load_grid(config=write_grid_yaml(tmp_path / "a.yaml", methods=["like-share"], domains=["movie"]))
    unpub, _ = load_grid(config=write_grid_yaml(tmp_path / "b.yaml", methods=["like-share"], domains=["movie"],
                                               test_split="unpublished"))
    cell = expand_grid(unpub)[0]
    assert "test_split" not in Context(official, tmp_path).settings(cell)  # rows of older runs stay valid
    assert Context(unpub, tmp_path).settings(cell)["test_split"] == "unpublished"
