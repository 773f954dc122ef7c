"""Score files in the layouts the field's scorers and leaderboards read.

spoofbench writes ``utt_id score`` (one trial per line, higher = more bona fide), which is also the
ASVspoof 2021 submission layout. :func:`convert_score_file` rewrites such a file as:

- ``asvspoof5``: the ASVspoof 5 evaluation package's TSV, a ``filename<TAB>cm-score`` header and one
  ``id<TAB>score`` row per trial;
- ``asvspoof2019``: the ASVspoof 2019 CM score layout ``utt_id source key score`` (``source`` is the
  attack id or ``-`` for bona fide, ``key`` is ``bonafide``/``spoof``), which needs the trials' labels;
- ``asvspoof2021``: ``utt_id score`` (as spoofbench's own).

Every layout reads back with :func:`spoofbench.metrics.read_scores` (``--score-col 4`` for 2019).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..atomic import write_text_atomic
from ..errors import ConfigError, ScoreFileError
from .readers import read_scores

SCORE_FORMATS: dict[str, str] = {
    "spoofbench": "utt_id score (also ASVspoof 2021)",
    "asvspoof2021": "utt_id score",
    "asvspoof5": "TSV with a 'filename<TAB>cm-score' header",
    "asvspoof2019": "utt_id source key score (needs the trials' labels)",
}
SUFFIX = {"asvspoof5": ".tsv"}


def converted_path(scores: str | os.PathLike, fmt: str) -> Path:
    """``eval__none.txt`` → ``eval__none.asvspoof5.tsv`` (beside it)."""
    path = Path(scores)
    return path.with_name(f"{path.stem}.{fmt}{SUFFIX.get(fmt, '.txt')}")


def convert_score_file(scores: str | os.PathLike, fmt: str, *, out: str | os.PathLike | None = None,
                       trials: Iterable[Any] | None = None) -> Path:
    """Write ``scores`` (spoofbench layout) in layout ``fmt``; ``trials`` (with ``id``, ``label``,
    ``attack``) are required for ``asvspoof2019``. Returns the written path."""
    if fmt not in SCORE_FORMATS:
        raise ConfigError(f"unknown score format {fmt!r}; expected one of {', '.join(SCORE_FORMATS)}",
                          field="score_format")
    table = read_scores(Path(scores))
    target = Path(out) if out is not None else converted_path(scores, fmt)
    pairs = list(zip(table.ids, table.scores))
    if fmt == "asvspoof5":
        text = "filename\tcm-score\n" + "".join(f"{u}\t{s:.8g}\n" for u, s in pairs)
    elif fmt == "asvspoof2019":
        labels = _labels(trials, scores)
        missing = [u for u, _ in pairs if u not in labels]
        if missing:
            raise ScoreFileError(f"{len(missing)} scored trial(s) are not in the manifest (first: {missing[0]}); "
                                 "the 2019 layout needs each trial's attack and label", scores)
        text = "".join(f"{u} {labels[u][0]} {labels[u][1]} {s:.8g}\n" for u, s in pairs)
    else:
        text = "".join(f"{u} {s:.8g}\n" for u, s in pairs)
    write_text_atomic(target, text)
    return target


def _labels(trials: Iterable[Any] | None, scores: Any) -> Mapping[str, tuple[str, str]]:
    if trials is None:
        raise ConfigError("the asvspoof2019 layout needs the trials' labels (a manifest)", scores,
                          field="score_format")
    return {t.id: ("-" if t.label == "bonafide" else (t.attack or "-"), t.label) for t in trials}
