"""Which conditions this machine can run, and why not (``spoofbench codecs check``, and the runner's
refusal of a config that names a condition no engine can run here: :func:`require_runnable`)."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from spoofbench.errors import CodecError

from .apply import apply_condition, condition_provenance
from .catalog import get_condition
from .condition import CodecCondition
from .engines import engine_attempts

_INSTALL = re.compile(r"apt-get install ([a-z0-9][a-z0-9.+\- ]*[a-z0-9+])")


@dataclass(frozen=True)
class ConditionStatus:
    """``available``: an engine has the encoder; ``works``: a 0.5 s test tone coded without error
    (None when not tried); ``reason``: why not. ``tried``: ``(engine, why not)`` of the engines tried
    in order (``""`` for the one chosen; empty for conditions no engine codes, e.g. ``none``);
    ``install``: the ``apt-get install …`` commands the unavailable engines name."""

    condition: CodecCondition
    available: bool
    engine: str | None
    library: str | None
    works: bool | None
    reason: str
    tried: tuple[tuple[str, str], ...] = ()
    install: tuple[str, ...] = ()


def _attempts(condition) -> tuple[tuple[str, str], ...]:
    if not isinstance(condition, CodecCondition) or condition.is_identity:
        return ()  # the identity, and channel conditions (run in-process, no engine choice)
    return tuple(engine_attempts(condition))


def install_commands(reasons: Iterable[str]) -> tuple[str, ...]:
    """The distinct ``apt-get install PKG…`` commands named in ``reasons``, in order."""
    found: dict[str, None] = {}
    for reason in reasons:
        for packages in _INSTALL.findall(reason):
            found[f"apt-get install {packages}"] = None
    return tuple(found)


def check_conditions(conditions: list[CodecCondition], *, smoke: bool = True) -> list[ConditionStatus]:
    """Look up an engine for each condition and, with ``smoke``, code a short tone through it."""
    rate = 16000
    t = np.arange(rate // 2) / rate
    tone = (0.1 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    out = []
    for condition in conditions:
        prov = condition_provenance(condition)
        tried = _attempts(condition)
        works, reason = None, prov["reason"]
        if prov["available"] and smoke:
            try:
                coded = apply_condition(tone, rate, condition, key="check")
                same_length = len(coded) == len(tone) or not getattr(condition, "keeps_length", True)
                works = same_length and bool(np.all(np.isfinite(coded)))
                reason = "" if works else f"coded length {len(coded)} != {len(tone)} or non-finite output"
            except CodecError as err:
                works, reason = False, str(err)
        install = install_commands([why for _, why in tried] + [reason]) if not prov["available"] or works is False \
            else ()
        out.append(ConditionStatus(condition, prov["available"], prov["engine"], prov["library"], works, reason,
                                   tried, install))
    return out


def require_runnable(conditions: Iterable[CodecCondition | str]) -> None:
    """Raise one :class:`CodecError` line naming every condition no engine can run here, with what to
    install; nothing when all can. Looks engines up only (no coding), so it is instant."""
    bad = []
    for condition in conditions:
        condition = get_condition(condition) if isinstance(condition, str) else condition
        prov = condition_provenance(condition)
        if prov["available"]:
            continue
        install = install_commands([prov["reason"]])
        bad.append(f"{condition.id} ({'; '.join(install) if install else prov['reason']})")
    if bad:
        raise CodecError(f"{len(bad)} codec condition(s) cannot run on this machine: {', '.join(bad)}; "
                         f"`spoofbench codecs check` lists the engines tried")
