"""The shape every corpus recipe shares, and ``prepare``: protocol → trials → check → manifest.

A recipe reads a corpus in its published layout (no hand conversion) and yields
:class:`~spoofbench.corpora.manifest.Trial` records per split. ``prepare`` streams them into
``<out>/<corpus>_<split>.jsonl.gz``, skipping (and reporting) trials whose audio is missing,
optionally probing headers, and comparing the count with the published one.
"""
from __future__ import annotations

import contextvars
import itertools
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Sequence

from ..errors import ManifestError
from ..logs import progress as show_progress
from .manifest import Trial, write_manifest

#: Audio suffixes that folder-scanning recipes pick up.
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac")

#: ``(protocol file, line)`` of the protocol line a recipe read last (set by :func:`read_lines`),
#: so ``prepare`` can name where a duplicate id was listed.
_POSITION: contextvars.ContextVar[tuple[Path, int] | None] = contextvars.ContextVar(
    "spoofbench_protocol_position", default=None)


class LayoutNotFoundError(ManifestError):
    """A protocol file or folder of the published layout is not where the recipe looks."""


ParseFn = Callable[[Path, str, "Path | None"], Iterator[Trial]]
SplitsFn = Callable[[Path, "Path | None"], Sequence[str]]


@dataclass(frozen=True)
class CorpusRecipe:
    """How to read one corpus.

    ``parse(root, split, protocol)`` yields the trials of ``split``; ``protocol`` optionally points
    at the protocol/metadata file or folder when it does not sit in the published place under
    ``root``. ``expected`` maps each split to its published trial count (None when unknown).
    ``list_splits(root, protocol)`` overrides ``expected``'s keys for corpora whose splits come
    from the data (generic CSV/folder).
    """

    name: str
    title: str
    source: str
    licence: str
    expected: Mapping[str, int | None]
    parse: ParseFn
    list_splits: SplitsFn | None = None
    corpus_name: Callable[[Path, "Path | None"], str] | None = None
    layout: str = ""
    notes: str = ""

    def splits(self, root: str | os.PathLike, protocol: str | os.PathLike | None = None) -> list[str]:
        if self.list_splits is not None:
            return list(self.list_splits(Path(root), _opt_path(protocol)))
        return list(self.expected)

    def corpus(self, root: str | os.PathLike, protocol: str | os.PathLike | None = None) -> str:
        """The ``corpus`` value of the trials (the recipe name unless derived from the data)."""
        if self.corpus_name is not None:
            return self.corpus_name(Path(root), _opt_path(protocol))
        return self.name

    def trials(self, root: str | os.PathLike, split: str,
               protocol: str | os.PathLike | None = None) -> Iterator[Trial]:
        """The trials of ``split`` as the protocol lists them (audio is not touched)."""
        known = self.splits(root, protocol)
        if split not in known:
            raise ManifestError(f"unknown split {split!r} of corpus {self.name!r}; "
                                f"expected one of {known}", field="split")
        return self.parse(Path(root), split, _opt_path(protocol))


def _opt_path(value: str | os.PathLike | None) -> Path | None:
    return None if value is None else Path(value)


# ---------------------------------------------------------------------------------------------
# helpers shared by recipes

def find_file(names: Sequence[str], folders: Iterable[Path | None], what: str) -> Path:
    """The first existing ``folder/name``; else a :class:`ManifestError` listing where it looked."""
    looked: list[str] = []
    for folder in folders:
        if folder is None:
            continue
        if folder.is_file():  # the user named the file itself
            return folder
        for name in names:
            candidate = folder / name
            looked.append(str(candidate))
            if candidate.is_file():
                return candidate
    raise LayoutNotFoundError(f"{what} not found; looked for: {', '.join(looked) or names}")


def safe_id(text: str) -> str:
    """A trial id from a relative path or name: no whitespace (score files split on it)."""
    return re.sub(r"\s+", "_", text.strip())


def relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def scan_audio(folder: Path) -> list[Path]:
    """Audio files under ``folder`` (recursive, sorted for determinism; empty if absent)."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()]
    return sorted(found)


def read_lines(path: Path) -> Iterator[tuple[int, list[str]]]:
    """``(line number, whitespace-split fields)`` of non-empty lines of a text protocol."""
    with open(path, "r", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.split()
            if parts:
                _POSITION.set((path, number))
                yield number, parts


def need_columns(parts: list[str], count: int, path: Path, number: int, layout: str) -> None:
    if len(parts) < count:
        raise ManifestError(f"expected {count} columns ({layout}), got {len(parts)}: "
                            f"{' '.join(parts)!r}", path=path, line=number)


def normalise_label(value: str, path: Path, number: int, field_name: str = "label") -> str:
    """Map the label spellings corpora use onto ``bonafide`` / ``spoof``."""
    key = value.strip().lower().replace("_", "-")
    if key in {"bonafide", "bona-fide", "bona fide", "real", "genuine", "human", "1"}:
        return "bonafide"
    if key in {"spoof", "fake", "deepfake", "synthetic", "spoofed", "0"}:
        return "spoof"
    raise ManifestError(f"unknown label {value!r}; expected bonafide/bona-fide/real/1 or "
                        f"spoof/fake/0", path=path, line=number, field=field_name)


# ---------------------------------------------------------------------------------------------
# prepare

@dataclass
class SplitReport:
    """What ``prepare`` wrote for one split (``absent``: why the split was not found and skipped)."""

    split: str
    manifest: Path
    listed: int = 0
    written: int = 0
    expected: int | None = None
    missing: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    absent: str | None = None

    @property
    def count_matches(self) -> bool | None:
        return None if self.expected is None else self.listed == self.expected

    def describe(self) -> str:
        if self.absent is not None:
            return f"{self.split}: not present under the root, skipped ({self.absent})"
        text = f"{self.split}: {self.written:,} trials → {self.manifest.name}"
        if self.expected is not None:
            diff = self.listed - self.expected
            text += (f" (protocol lists {self.listed:,}, published {self.expected:,}: "
                     + ("match)" if diff == 0 else f"DIFFERENCE {diff:+,}: a subset or a changed protocol)"))
        if self.missing:
            text += f"; {len(self.missing):,} missing audio skipped (e.g. {self.missing[0]})"
        if self.unreadable:
            text += f"; {len(self.unreadable):,} unreadable skipped (e.g. {self.unreadable[0]})"
        return text


@dataclass
class PrepareReport:
    corpus: str
    root: Path
    splits: list[SplitReport]
    layout: str = ""

    @property
    def ok(self) -> bool:
        return all(s.count_matches is not False and not s.missing and not s.unreadable
                   for s in self.splits if s.absent is None)

    def problems(self, *, allow_missing: bool = False) -> list[str]:
        """Why the prepared manifests fall short (``prepare`` exits 1 on any): a split with no
        trials at all, and, unless ``allow_missing``, any listed audio that is missing or unreadable."""
        out = []
        for s in self.splits:
            if s.absent is not None:
                continue
            lost = len(s.missing) + len(s.unreadable)
            if s.written == 0:
                out.append(f"{s.split}: no audio found for any of the {s.listed:,} listed trials under "
                           f"{self.root} (expected layout: {self.layout or 'see spoofbench corpora list'})")
            elif lost and not allow_missing:
                out.append(f"{s.split}: {lost:,} of {s.listed:,} listed files missing or unreadable "
                           f"(expected layout: {self.layout or 'see spoofbench corpora list'}); "
                           "rerun with --allow-missing to accept the smaller set")
        return out


def manifest_name(corpus: str, split: str) -> str:
    return f"{corpus}_{split}.jsonl.gz"


def _exists_many(paths: list[str], workers: int) -> list[bool]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(os.path.isfile, paths))


def prepare(corpus: str, root: str | os.PathLike, out: str | os.PathLike, *,
            splits: Sequence[str] | None = None, protocol: str | os.PathLike | None = None,
            probe: bool = False, cache_dir: str | os.PathLike | None = None,
            workers: int | None = None, check_audio: bool = True,
            progress: bool = True) -> PrepareReport:
    """Write ``<out>/<corpus>_<split>.jsonl.gz`` for each split of ``corpus`` found under ``root``.

    Trials whose audio is missing (or, with ``probe``, unreadable) are skipped and reported (see
    :meth:`PrepareReport.problems`). Splits whose protocol is not under ``root`` are skipped when
    ``splits`` is not given (a partial copy such as a mini set); none found, a split without any
    trial, or an id listed twice raise :class:`ManifestError` naming the expected layout or the
    protocol line. With ``check_audio=False`` the protocol is written as listed.
    """
    from . import RECIPES
    from .probe import ProbeCache, default_workers

    recipe: CorpusRecipe = RECIPES.get(corpus)
    root, out = Path(root), Path(out)
    layout = recipe.layout or "the corpus"
    if not root.is_dir():
        raise ManifestError(f"corpus root is not a directory (expected the folder holding "
                            f"{layout})", path=root)
    workers = workers or default_workers()
    chosen = list(splits) if splits else recipe.splits(root, protocol)
    cache = ProbeCache(cache_dir) if probe and cache_dir else None
    reports: list[SplitReport] = []
    seen: dict[str, str] = {}
    try:
        for split in chosen:
            report = SplitReport(split, out / manifest_name(recipe.corpus(root, protocol), split),
                                 expected=recipe.expected.get(split))
            reports.append(report)
            trials = _split_trials(recipe, root, split, protocol, report, named=bool(splits))
            if trials is None:
                continue
            trials = _unique_ids(_counted(trials, report), seen)
            if progress:  # counts the listed trials as they are checked, out of how many the protocol lists
                trials = _progress(trials, report, recipe.name, _listed(recipe, root, split, protocol))
            kept = _kept(trials, root, report, probe=probe, check_audio=check_audio, cache=cache, workers=workers)
            report.written = write_manifest(report.manifest, kept)
    finally:
        if cache is not None:
            cache.close()
    if all(r.absent is not None for r in reports):
        raise ManifestError(f"no split of {recipe.name} found (expected layout under the root: "
                            f"{layout}); {reports[0].absent if reports else ''}", path=root)
    return PrepareReport(recipe.name, root, reports, recipe.layout)


def _split_trials(recipe: CorpusRecipe, root: Path, split: str, protocol: str | os.PathLike | None,
                  report: SplitReport, *, named: bool) -> Iterator[Trial] | None:
    """The trials ``split``'s protocol lists; None (``report.absent`` says why) when its protocol is not
    under ``root`` and the split was not asked for by name (``named``: then that is an error)."""
    try:
        trials = _peeked(recipe.trials(root, split, protocol))
    except LayoutNotFoundError as err:
        if named:
            raise
        report.absent = str(err)
        return None
    if trials is None:
        raise ManifestError(f"split {split!r}: found no trials (expected layout under the "
                            f"root: {recipe.layout or 'the corpus'})", path=root)
    return trials


def _kept(trials: Iterator[Trial], root: Path, report: SplitReport, *, probe: bool, check_audio: bool,
          cache, workers: int) -> Iterator[Trial]:
    """The trials to write: probed (readable audio), or whose audio exists, or all (``check_audio`` off)."""
    from .probe import probe_trials

    if probe:
        return _probed(probe_trials(trials, root, cache=cache, workers=workers), report)
    if check_audio:
        return _existing(trials, root, report, workers)
    return trials


def _peeked(trials: Iterator[Trial]) -> Iterator[Trial] | None:
    """``trials`` unchanged, or None when it yields nothing (errors of its first step raise here)."""
    _POSITION.set(None)
    try:
        first = next(trials)
    except StopIteration:
        return None
    return itertools.chain([first], trials)


def _unique_ids(trials: Iterator[Trial], seen: dict[str, str]) -> Iterator[Trial]:
    """Stop at the first id listed twice (in any split), naming the protocol file and line."""
    for trial in trials:
        position = _POSITION.get()
        where = f"{position[0]}:{position[1]}" if position else trial.path
        if trial.id in seen:
            raise ManifestError(f"duplicate trial id {trial.id!r} (split {trial.split}); first listed "
                                f"at {seen[trial.id]}; ids must be unique",
                                path=position[0] if position else None,
                                line=position[1] if position else None)
        seen[trial.id] = where
        yield trial


def _counted(trials: Iterator[Trial], report: SplitReport) -> Iterator[Trial]:
    for trial in trials:
        report.listed += 1
        yield trial


def _probed(pairs, report: SplitReport) -> Iterator[Trial]:
    for trial, result in pairs:
        if result.ok:
            yield trial
        elif result.error and result.error.startswith("missing"):
            report.missing.append(trial.path)
        else:
            report.unreadable.append(trial.path)


def _existing(trials: Iterator[Trial], root: Path, report: SplitReport,
              workers: int, chunk: int = 4096) -> Iterator[Trial]:
    buffer: list[Trial] = []

    def flush() -> Iterator[Trial]:
        flags = _exists_many([str(t.audio_path(root)) for t in buffer], workers)
        for trial, exists in zip(buffer, flags):
            if exists:
                yield trial
            else:
                report.missing.append(trial.path)

    for trial in trials:
        buffer.append(trial)
        if len(buffer) >= chunk:
            yield from flush()
            buffer = []
    yield from flush()


def _listed(recipe: CorpusRecipe, root: Path, split: str, protocol: str | os.PathLike | None) -> int:
    """How many trials ``split``'s protocol lists here (one more pass over the protocol, constant memory): the
    progress total, which is not the published count when the root holds part of the corpus (a mini set)."""
    return sum(1 for _ in recipe.trials(root, split, protocol))


def _progress(trials: Iterator[Trial], report: SplitReport, corpus: str, total: int) -> Iterator[Trial]:
    return show_progress(trials, total=total, desc=f"{corpus} {report.split}")
