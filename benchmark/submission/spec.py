"""``submission.yaml``: who submits what, trained on which corpora.

Score-file submission::

    system: tiny-cnn                      # the row name; re-submitting it makes a new version
    authors: [Ada Lovelace]
    contact: ada@example.org
    training_data: [demo_a]               # corpus ids (in-domain / OOD is decided from these)
    parameters: 123456
    description: A tiny CNN on raw waveforms.
    licence: CC-BY-4.0
    files:                                # one score file per test set × condition, with its sha256
      a_eval__none.txt: 3f1c...
      a_eval__g711_mulaw.txt: 9ab2...

Optional ``normalise: {score_col: 2, id_map: '([^/]+)\\.wav$', flip: false}`` declares how the score
files are read (so a plain ``leaderboard add`` reproduces the submitter's check); ``id_map`` may be a
mapping ``{TEST: REGEX}`` where the id shapes differ between test sets.

Model submission: the same without ``files`` and with ``model: {detector: rawcnn_2m, preset: tiny,
checkpoint: model.pt}`` (checkpoint relative to the submission folder); the operator scores it.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..configs import YamlConfig, load_yaml_lines
from ..configs import config_dataclass as dataclass
from ..errors import ConfigError, SubmissionError

SPEC_NAME = "submission.yaml"
REQUIRED = ("system", "authors", "contact", "training_data", "parameters", "description", "licence")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class ModelRef:
    """A zoo detector (registry name, preset) with a checkpoint, or a detector from a wheel."""
    detector: str
    preset: str | None = None
    checkpoint: str | None = None
    wheel: str | None = None


@dataclass
class SubmissionSpec(YamlConfig):
    """A parsed ``submission.yaml``."""
    system: str
    authors: tuple[str, ...]
    contact: str
    training_data: tuple[str, ...]
    parameters: int
    description: str
    licence: str
    files: Mapping[str, str] | None = None
    model: ModelRef | None = None
    normalise: Mapping[str, Any] | None = None

    def validate(self, path: Any = None) -> SubmissionSpec:
        if not self.system.strip() or "/" in self.system:
            raise ConfigError(f"system name {self.system!r} must be non-empty without '/'", path, field="system")
        if not self.authors:
            raise ConfigError("no authors; expected at least one", path, field="authors")
        if self.parameters <= 0:
            raise ConfigError(f"value {self.parameters} must be > 0", path, field="parameters")
        if self.model is None and not self.files:
            raise ConfigError("a score-file submission lists its files with their sha256 "
                              "(files: {NAME: SHA256}); a model submission gives 'model'", path, field="files")
        if self.model is not None and self.files:
            raise ConfigError("give either 'files' (score files) or 'model', not both", path, field="files")
        _validate_normalise(self.normalise, path)
        for name, digest in (self.files or {}).items():
            if not _SHA256.match(str(digest)):
                raise ConfigError(f"sha256 {digest!r} is not 64 lowercase hex digits", path,
                                  field=f"files.{name}")
        return self

    @property
    def kind(self) -> str:
        return "model" if self.model is not None else "scores"

    def public_dict(self) -> dict:
        return self.to_dict()


def _validate_normalise(normalise: Mapping[str, Any] | None, path: Any) -> None:
    if normalise is None:
        return
    for key in normalise:
        if key not in ("score_col", "id_map", "flip"):
            raise ConfigError(f"unknown key {key!r}; expected score_col, id_map or flip", path, field=f"normalise.{key}")
    column = normalise.get("score_col")
    if column is not None and (not isinstance(column, int) or isinstance(column, bool) or column < 2):
        raise ConfigError(f"value {column!r} must be a column number >= 2 (column 1 holds the id)", path,
                          field="normalise.score_col")
    if not isinstance(normalise.get("flip", False), bool):
        raise ConfigError("expected true or false", path, field="normalise.flip")
    id_map = normalise.get("id_map")
    maps = id_map.items() if isinstance(id_map, Mapping) else [("", id_map)] if id_map is not None else []
    for test, pattern in maps:
        where = f"normalise.id_map.{test}" if test else "normalise.id_map"
        try:
            compiled = re.compile(str(pattern)) if isinstance(pattern, str) else None
        except re.error as err:
            raise ConfigError(f"not a regular expression: {err}", path, field=where) from err
        if compiled is None or compiled.groups < 1:
            raise ConfigError("expected a regular expression with a group (the trial id)", path, field=where)


def missing_fields(folder: str | Path) -> list[str]:
    """The required ``submission.yaml`` keys that the file leaves out (empty if it is absent)."""
    path = Path(folder) / SPEC_NAME
    if not path.is_file():
        return []
    data, _ = load_yaml_lines(path)
    return [key for key in REQUIRED if key not in data]


def load_spec(folder: str | Path) -> SubmissionSpec:
    """Read ``FOLDER/submission.yaml``; every missing required field is named in one error."""
    path = Path(folder) / SPEC_NAME
    if path.is_symlink():  # never read: its target may be any file of the operator's
        raise SubmissionError(f"{path}: a symbolic link; submit the file itself")
    if not path.is_file():
        raise SubmissionError(f"{path}: missing; a submission folder holds a submission.yaml "
                              f"({', '.join(REQUIRED)}, files or model)")
    missing = missing_fields(folder)
    if missing:
        raise SubmissionError("\n".join(f"{path}: {key}: required field missing" for key in missing))
    try:
        return SubmissionSpec.from_yaml(path)
    except ConfigError as err:
        raise SubmissionError(str(err)) from err
