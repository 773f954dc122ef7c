"""Checks on score arrays given to the metric functions (files are checked by the readers)."""
from __future__ import annotations

import numpy as np

from ..errors import ScoreFileError


def as_score_array(values, what: str) -> np.ndarray:
    """``values`` as a 1-D float64 array of finite numbers, at least one; else :class:`ScoreFileError`."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ScoreFileError(f"{what}: cannot be read as numbers ({err})") from err
    if array.ndim != 1:
        raise ScoreFileError(f"{what}: expected a 1-D array of scores, got shape {array.shape}")
    if array.size == 0:
        raise ScoreFileError(f"{what}: no scores (a detector needs both bona fide and spoof trials)")
    finite = np.isfinite(array)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise ScoreFileError(f"{what}: {bad.size} non-finite value(s) (NaN or inf), first "
                             f"{array[bad[0]]!r} at index {bad[0]}; expected finite numbers")
    return array


def split_by_label(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    """``(bonafide (Nb,), spoof (Ns,))`` from ``scores (N,)`` and ``labels (N,)`` (1 bona fide, 0 spoof)."""
    scores = as_score_array(scores, "scores")
    labels = np.asarray(labels)
    if labels.shape != scores.shape:
        raise ScoreFileError(f"labels: shape {labels.shape} does not match scores {scores.shape}")
    is_bona = labels == 1
    if not np.all(is_bona | (labels == 0)):
        bad = labels[~(is_bona | (labels == 0))][0]
        bad = bad.item() if isinstance(bad, np.generic) else bad
        raise ScoreFileError(f"labels: unknown label {bad!r}; expected 1 (bona fide) or 0 (spoof)")
    n_bona = int(is_bona.sum())
    if n_bona == 0 or n_bona == scores.size:
        only = "bona fide" if n_bona else "spoof"
        raise ScoreFileError(f"labels: all {scores.size} trials are {only}; metrics need both "
                             "bona fide and spoof trials")
    return scores[is_bona], scores[~is_bona]
