"""spoofbench data in other tools' formats: lhotse CutSets (``spoofbench export lhotse``)."""
from __future__ import annotations

import os
from pathlib import Path

from .atomic import atomic_path
from .errors import ManifestError


def export_lhotse(manifest: str | os.PathLike, out: str | os.PathLike, *, root: str | os.PathLike) -> int:
    """Write the trials of ``manifest`` as a lhotse cuts manifest ``out`` (atomically); returns the count.

    The mapping is :func:`spoofbench.corpora.manifest.to_lhotse_cutset`'s; ``lhotse.CutSet.from_file``
    reads the result, and :func:`~spoofbench.corpora.manifest.trial_from_lhotse_cut` maps a cut back."""
    from .corpora.manifest import read_manifest, to_lhotse_cutset

    out = Path(out)
    suffix = "".join(out.suffixes[-2:]) if out.name.endswith(".jsonl.gz") else out.suffix
    if suffix not in (".jsonl.gz", ".jsonl"):
        raise ManifestError(f"expected a .jsonl.gz or .jsonl file name for the lhotse cuts, got {out.name!r}", out)
    if not Path(root).is_dir():
        raise ManifestError("corpus root is not a directory", root)
    cuts = to_lhotse_cutset(read_manifest(manifest), root)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out, suffix=suffix) as tmp:
        cuts.to_file(tmp)
    return len(cuts)
