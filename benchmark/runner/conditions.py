"""Codec-condition ids of a config: ``matrix:NAME`` expanded, in order, without duplicates.

Below both :mod:`~spoofbench.runner.config` (which checks a config's ``codecs``) and
:mod:`~spoofbench.runner.plan` (which plans a cell per condition), so neither imports the other for it.
"""
from __future__ import annotations

from typing import Iterable


def expand_codecs(items: Iterable[str], *, strict: bool = True) -> list[str]:
    """Condition ids in order, with ``matrix:NAME`` expanded and duplicates dropped.

    ``strict`` (the runner): an unknown id or matrix raises here, before any work. Not strict (a manifest
    recording what a command was asked for): an id that cannot be expanded is kept as written.
    """
    from ..codecs import get_condition, get_matrix

    ids: list[str] = []
    for item in map(str, items):
        try:
            if item.startswith("matrix:"):
                ids += [c.id for c in get_matrix(item.partition(":")[2])]
                continue
            if strict:
                get_condition(item)  # unknown ids fail here
        except Exception:
            if strict:
                raise
        ids.append(item)
    return list(dict.fromkeys(ids))
