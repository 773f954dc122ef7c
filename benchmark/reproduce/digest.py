"""Content digests: moved to :mod:`spoofbench.digests` (the foundation layer: the runner and the data
path use them too). This name stays importable, and its :func:`audio_digest` also reads a manifest path."""
from __future__ import annotations

import os
from typing import Any

from .. import digests
from ..digests import (MISSING, AudioDigest, DigestCache, TrialChanges, changed_trials, digest_of, file_sha256,
                       read_trial_hashes, tree_digest, write_trial_hashes)

__all__ = ["MISSING", "AudioDigest", "DigestCache", "TrialChanges", "audio_digest", "changed_trials", "digest_of",
           "file_sha256", "read_trial_hashes", "tree_digest", "write_trial_hashes"]


def audio_digest(trials_or_manifest: Any, root: Any, *, cache: DigestCache | str | os.PathLike | None = None,
                 workers: int = 1, progress: bool = False) -> AudioDigest:
    """:func:`spoofbench.digests.audio_digest` over a manifest path (``.jsonl[.gz]``) or a list of trials."""
    trials = trials_or_manifest
    if isinstance(trials, (str, os.PathLike)):
        from ..corpora.manifest import read_manifest
        trials = list(read_manifest(trials))
    return digests.audio_digest(trials, root, cache=cache, workers=workers, progress=progress)
