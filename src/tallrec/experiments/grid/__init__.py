"""The grid: methods x domains x K x seeds x models, run cell by cell into one folder, resumable.

schema.py (GridConfig and its validation), cells.py (Cell, expansion, keys, folders), context.py
(recipes, stage 1 and data shared by a run's cells), runner.py (plan, run, resume, the folder
lock), store.py (results.jsonl), estimate.py (time estimates). Import the modules themselves; this
file imports nothing, so that the registry's runners can use cells.py without a cycle.
"""
