"""Experiments built from the package's pieces: the method registry (methods.py), the grid
(grid/: schema, cells, runner, store, estimate), its presets (presets.py: ablation, cross-domain),
the quickstart, and the report (report/)."""
