"""Metrics per value of a key column (attack, codec, speaker, ...).

Two conventions, chosen from the data:

- *attack-like* columns, where every bona fide trial carries one value that no spoof trial carries
  (``attack`` = ``bonafide``/``-`` in ASVspoof keys): each spoof value is scored against *all* bona
  fide trials (the ASVspoof convention for per-attack EER);
- *condition-like* columns (codec, transmission, language): each value is scored on its own trials;
  a value with only one class is listed with its counts and the reason it has no metrics.
"""
from __future__ import annotations

from typing import Callable

import numpy as np


def is_attack_like(values: np.ndarray, labels: np.ndarray) -> bool:
    """True when all bona fide trials share one value that no spoof trial has."""
    bona_values = np.unique(values[labels == 1])
    return bona_values.size == 1 and not np.any(values[labels == 0] == bona_values[0])


def breakdown(scores: np.ndarray, labels: np.ndarray, values: np.ndarray,
              metrics: Callable[[np.ndarray, np.ndarray], dict]) -> dict[str, dict]:
    """``{value: metrics(scores_subset, labels_subset)}`` for each value of ``values (N,)``.

    ``metrics`` is e.g. :func:`spoofbench.metrics.compute_metrics`. Values are sorted.
    """
    values = np.asarray(values).astype(str)
    labels = np.asarray(labels)
    results: dict[str, dict] = {}
    if is_attack_like(values, labels):
        bona = labels == 1
        for value in np.unique(values[~bona]):
            mask = bona | (values == value)
            results[str(value)] = metrics(scores[mask], labels[mask])
        return results
    for value in np.unique(values):
        mask = values == value
        n_bona = int(np.sum(labels[mask] == 1))
        n_spoof = int(mask.sum()) - n_bona
        if n_bona == 0 or n_spoof == 0:
            results[str(value)] = {"n_bonafide": n_bona, "n_spoof": n_spoof,
                                   "skipped": "only one class among these trials"}
        else:
            results[str(value)] = metrics(scores[mask], labels[mask])
    return results
