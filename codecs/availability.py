"""Which conditions this machine can run, and why not (``spoofbench codecs check``)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spoofbench.errors import CodecError

from .apply import apply_condition, condition_provenance
from .condition import CodecCondition


@dataclass(frozen=True)
class ConditionStatus:
    """``available``: an engine has the encoder; ``works``: a 0.5 s test tone coded without error
    (None when not tried); ``reason``: why not."""

    condition: CodecCondition
    available: bool
    engine: str | None
    library: str | None
    works: bool | None
    reason: str


def check_conditions(conditions: list[CodecCondition], *, smoke: bool = True) -> list[ConditionStatus]:
    """Look up an engine for each condition and, with ``smoke``, code a short tone through it."""
    rate = 16000
    t = np.arange(rate // 2) / rate
    tone = (0.1 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    out = []
    for condition in conditions:
        prov = condition_provenance(condition)
        works, reason = None, prov["reason"]
        if prov["available"] and smoke:
            try:
                coded = apply_condition(tone, rate, condition, key="check")
                works = len(coded) == len(tone) and bool(np.all(np.isfinite(coded)))
                reason = "" if works else f"coded length {len(coded)} != {len(tone)} or non-finite output"
            except CodecError as err:
                works, reason = False, str(err)
        out.append(ConditionStatus(condition, prov["available"], prov["engine"], prov["library"], works, reason))
    return out
