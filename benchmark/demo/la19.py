"""The demo's real attacks: manifests over the vendored ASVspoof 2019 LA mini set.

``data_manifests/asvspoof2019_la_mini/`` holds 200 real 2019 LA utterances in the published layout
(100 train + 100 dev, half bona fide, spoofs of A01–A06) with their official protocol lines; the
official recipe (:func:`spoofbench.corpora.asvspoof.parse_asvspoof2019_la`) reads them. The demo cuts:

* ``la19_train`` / ``la19_select``: the train half, split by label-stratified seeded sampling into
  a training part and a model-selection part (early stopping never sees the test half);
* ``la19_dev``: the dev half, the real-attack test set (in-domain for detectors trained on the train
  half, out of distribution for detectors trained on the demo's corpus A);
* ``la19_pretrained``: a label-balanced subset of ``la19_dev`` for the official AASIST weights (they
  score ~0.4 clips/s on 2 CPU cores). These utterances are in AASIST's own training and development
  data, so that row is never OOD evidence.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import ManifestError

#: Corpus id of the trials (the official recipe's).
CORPUS = "asvspoof2019_la"


@dataclass(frozen=True)
class La19Sizes:
    """Clips per label of each cut (``None``: all of them)."""
    train: int | None
    select: int
    test: int | None
    pretrained: int


QUICK_LA19 = La19Sizes(train=20, select=5, test=20, pretrained=3)
FULL_LA19 = La19Sizes(train=None, select=10, test=None, pretrained=10)


def la19_mini_root() -> Path:
    """The vendored ASVspoof 2019 LA mini folder inside the installed package."""
    return Path(str(resources.files("spoofbench.data_manifests") / "asvspoof2019_la_mini"))


def _balanced(trials: list, per_label: int | None, rng: np.random.Generator) -> tuple[list, list]:
    """``per_label`` trials of each label (seeded), and the rest; order follows the protocol."""
    chosen: set[str] = set()
    for label in ("bonafide", "spoof"):
        ids = sorted(t.id for t in trials if t.label == label)
        if per_label is None or per_label >= len(ids):
            chosen.update(ids)
            continue
        chosen.update(ids[i] for i in rng.choice(len(ids), size=per_label, replace=False))
    return [t for t in trials if t.id in chosen], [t for t in trials if t.id not in chosen]


def build_la19_manifests(out_dir: str | Path, sizes: La19Sizes, *, seed: int = 0,
                         root: str | Path | None = None) -> tuple[Path, dict[str, Path]]:
    """Write ``la19_{train,select,dev,pretrained}.jsonl.gz`` into ``out_dir``; return the audio root
    (paths in the manifests are relative to it) and set name → manifest path."""
    from ..corpora.asvspoof import parse_asvspoof2019_la
    from ..corpora.manifest import write_manifest

    root = Path(root) if root else la19_mini_root()
    if not (root / "ASVspoof2019_LA_cm_protocols").is_dir():
        raise ManifestError("the vendored ASVspoof 2019 LA mini set is missing; expected its published "
                            "layout with ASVspoof2019_LA_cm_protocols/", path=root)
    halves = {split: list(parse_asvspoof2019_la(root, split, None)) for split in ("train", "dev")}
    for split, trials in halves.items():
        missing = [t for t in trials if not (root / t.path).is_file()]
        if missing:
            raise ManifestError(f"{len(missing)} {split} file(s) of the protocol are missing, e.g. "
                                f"{missing[0].id}", path=root / missing[0].path)
    rng = np.random.default_rng([seed, 2019])
    select, rest = _balanced(halves["train"], sizes.select, rng)
    train, _ = _balanced(rest, sizes.train, rng)
    test, _ = _balanced(halves["dev"], sizes.test, rng)
    pretrained, _ = _balanced(test, sizes.pretrained, rng)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, trials in (("la19_train", train), ("la19_select", select), ("la19_dev", test),
                         ("la19_pretrained", pretrained)):
        paths[name] = out / f"{name}.jsonl.gz"
        write_manifest(paths[name], trials)
    return root, paths
