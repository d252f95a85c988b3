"""Leak-free collaborative signals: what the interaction log knows about a user and an item.

The rule every signal obeys: a sample whose target was rated at time t by its user, at position k of
that user's time-ordered list, sees

* its own user's ratings at positions before k (positions, not seconds: about half of the ML-100K
  windows hold a history item rated in the same second as the target, and the window keeps them);
* other users' ratings made strictly before t.

The target rating and everything after it are never seen. Signals come in two kinds: counting
statistics computed exactly at (k, t) (`stats.py`), and CF models (matrix factorization with user
and item biases, `mf.py`) fitted on time snapshots of the log, a sample using the latest snapshot
that ends at or before t (`snapshots.py`). `locate.py` recovers (user, item, t, k) for samples that
carry no ids, such as the authors' movie files, through the log they were built from.
"""
