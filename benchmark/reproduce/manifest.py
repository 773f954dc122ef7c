"""The run manifest: ``manifest.json`` written beside the results of every train, score, run and demo.

It records what is needed to re-run the command from the manifest alone and to explain a difference:
the command line, the resolved config and its hash, the seeds, the call's inputs (``invocation``),
spoofbench's version and git commit (dirty flag), a timestamp, the environment
(:mod:`spoofbench.reproduce.environment`), the sha256 of every input file (manifests, protocol
files, checkpoints, codec condition definitions), a content digest per audio set (per-trial hashes
in ``provenance/audio/<name>.tsv.gz``), a digest of the codec cache (per-entry hashes in
``provenance/codec_cache.tsv.gz``) and the sha256 of the outputs (score files, checkpoints,
result.json). Each top-level section carries a seal (its sha256) so an edit after the run is named.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..atomic import write_json_atomic
from ..digests import DigestCache, digest_of, tree_digest, write_trial_hashes
from ..errors import InputFileError
from ..hashing import canonical_json, sha256_json
from .digest import audio_digest

MANIFEST_NAME = "manifest.json"
PROVENANCE_DIR = "provenance"
#: 2: seals hash :func:`spoofbench.hashing.canonical_json` (non-ASCII escaped, like every cache key);
#: schema 1 manifests (non-ASCII kept) are still read, and their seals checked as written.
SCHEMA = 2
SUPPORTED_SCHEMAS = (1, 2)
KIND = "spoofbench-run-manifest"
#: Sections covered by a seal.
SEALED = ("command", "argv", "config", "seeds", "invocation", "spoofbench", "environment", "inputs", "outputs")
#: Folders of a run dir whose files are not hashed as outputs (covered elsewhere or not reproducible).
_SKIP_OUTPUT_DIRS = {"corpus", "codec_cache", "plots", "digests", PROVENANCE_DIR, "reproduction", "__pycache__"}
_SKIP_OUTPUT_FILES = {MANIFEST_NAME, "reproduction.json", "reproduction.md"}


def _schema1_sha256_json(obj: Any) -> str:
    """The seal of a schema-1 manifest: canonical JSON with non-ASCII characters kept (read-only migration)."""
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def plain_config(config: Any) -> Any:
    """A config object (``to_dict``, dataclass, mapping) as plain JSON-able data."""
    if config is None:
        return None
    if hasattr(config, "to_dict"):
        return json.loads(canonical_json(config.to_dict()))
    if dataclasses.is_dataclass(config):
        return json.loads(canonical_json(dataclasses.asdict(config)))
    return json.loads(canonical_json(config))


def git_state(start: str | os.PathLike | None = None) -> dict[str, Any]:
    """``{"commit": sha | None, "dirty": bool | None}`` of the checkout holding spoofbench."""
    cwd = Path(start) if start else Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                                timeout=10).stdout.strip()
        if not commit:
            return {"commit": None, "dirty": None}
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                capture_output=True, text=True, timeout=30).stdout
        return {"commit": commit, "dirty": bool(status.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


@dataclasses.dataclass(frozen=True)
class AudioSet:
    """A manifest and its corpus root (a path or a mapping corpus → root), digested by content."""
    manifest: str
    root: Any


def _file_record(path: str | os.PathLike, cache: DigestCache) -> dict[str, Any]:
    path = Path(path)
    try:
        return {"path": str(path.resolve()), "sha256": cache.sha256(path), "size": path.stat().st_size}
    except OSError as err:
        return {"path": str(path), "sha256": None, "error": f"{type(err).__name__}: {err.strerror or err}"}


def _by_attack(manifest: str, hashes: Mapping[str, str]) -> dict[str, str]:
    """One digest per attack (bona fide included): tells which generator's audio changed."""
    from ..corpora.manifest import read_manifest

    groups: dict[str, dict[str, str]] = {}
    for trial in read_manifest(manifest):
        if trial.id in hashes:
            groups.setdefault(trial.attack or trial.label, {})[trial.id] = hashes[trial.id]
    return {attack: digest_of(members) for attack, members in sorted(groups.items())}


def _audio_record(name: str, audio: AudioSet, out_dir: Path, cache: DigestCache) -> dict[str, Any]:
    try:
        digest = audio_digest(audio.manifest, audio.root, cache=cache)
    except InputFileError as err:
        return {"manifest": audio.manifest, "sha256": None, "error": str(err)}
    sidecar = write_trial_hashes(out_dir / PROVENANCE_DIR / "audio" / f"{name}.tsv.gz", digest)
    root = {k: str(v) for k, v in audio.root.items()} if isinstance(audio.root, Mapping) else str(audio.root)
    return {"manifest": str(audio.manifest), "root": root, **digest.summary(),
            "by_attack": _by_attack(audio.manifest, digest.trials),
            "trial_hashes": sidecar.relative_to(out_dir).as_posix()}


def _codec_records(codec_ids: Iterable[str], cache: DigestCache) -> dict[str, Any]:
    """Each condition's definition (and its hash) plus the definitions file it came from."""
    from .. import codecs as codecs_pkg
    from ..codecs import condition_provenance, get_condition

    records: dict[str, Any] = {}
    for cid in codec_ids:
        try:
            definition = plain_config(get_condition(cid))
            records[cid] = {"definition": definition, "sha256": sha256_json(definition),
                            "provenance": plain_config(condition_provenance(cid))}
        except Exception as err:  # an unknown id is the runner's error to report
            records[cid] = {"error": f"{type(err).__name__}: {err}"}
    folder = Path(codecs_pkg.__file__).parent
    definitions, channels = folder / "conditions.yaml", folder / "channels.yaml"
    return {"conditions": records,
            "definitions_file": _file_record(definitions, cache) if definitions.is_file() else None,
            "channels_file": _file_record(channels, cache) if channels.is_file() else None}


def _codec_cache_record(directory: str | os.PathLike | None, out_dir: Path, cache: DigestCache) -> dict | None:
    if not directory or not Path(directory).is_dir():
        return None
    tree = tree_digest(directory, suffix=".f32", cache=cache)
    sidecar = write_trial_hashes(out_dir / PROVENANCE_DIR / "codec_cache.tsv.gz", tree)
    return {"directory": str(Path(directory).resolve()), "sha256": tree.digest, "n_entries": tree.n_files,
            "entry_hashes": sidecar.relative_to(out_dir).as_posix()}


def output_hashes(out_dir: str | os.PathLike, cache: DigestCache | None = None) -> dict[str, str]:
    """sha256 of the files a command wrote under ``out_dir`` (scores, checkpoints, result.json, ...)."""
    base = Path(out_dir)
    store = cache or DigestCache(None)
    hashes: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_OUTPUT_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            if name in _SKIP_OUTPUT_FILES or name.startswith(".") or name.endswith((".lock", ".sqlite")):
                continue
            path = Path(dirpath, name)
            try:
                hashes[path.relative_to(base).as_posix()] = store.sha256(path)
            except OSError:
                continue
    return hashes


def build_manifest(out_dir: str | os.PathLike, argv: Sequence[str] | None, config: Any,
                   seeds: Sequence[int] | None, inputs: Mapping[str, Any] | None = None, *, command: str,
                   files: Mapping[str, Any] | None = None, audio: Mapping[str, AudioSet] | None = None,
                   codecs: Iterable[str] = (), codec_cache: str | None = None, device: str | None = None,
                   digest_cache: str | os.PathLike | DigestCache | None = None,
                   extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The manifest dict of a finished command (see the module docstring); nothing is written but sidecars.

    ``inputs``: the call's JSON-able arguments that, with ``config``, re-run it (``invocation``);
    ``files``: role → path (or list of paths) of input files to hash; ``audio``: name → AudioSet.
    """
    from .environment import collect_environment
    from .. import __version__

    out = Path(out_dir)
    cache = digest_cache if isinstance(digest_cache, DigestCache) else DigestCache(digest_cache)
    try:
        plain = plain_config(config)
        file_records: dict[str, Any] = {}
        for role, value in (files or {}).items():
            if value is None:
                continue
            paths = value if isinstance(value, (list, tuple)) else [value]
            for i, path in enumerate(paths):
                file_records[role if len(paths) == 1 else f"{role}[{i}]"] = _file_record(path, cache)
        manifest: dict[str, Any] = {
            "schema": SCHEMA, "kind": KIND, "command": command, "argv": list(argv) if argv is not None else None,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "config": plain, "config_sha256": sha256_json(plain),
            "seeds": [int(s) for s in seeds] if seeds is not None else [],
            "invocation": json.loads(canonical_json(dict(inputs or {}))),
            "spoofbench": {"version": __version__, **git_state()},
            "environment": collect_environment(device=device),
            "inputs": {"files": file_records,
                       "audio": {name: _audio_record(name, a, out, cache) for name, a in (audio or {}).items()},
                       "codecs": _codec_records(codecs, cache),
                       "codec_cache": _codec_cache_record(codec_cache, out, cache)},
            "outputs": output_hashes(out, cache),
            **dict(extra or {}),
        }
    finally:
        if not isinstance(digest_cache, DigestCache):
            cache.close()
    manifest["seals"] = {key: sha256_json(manifest.get(key)) for key in SEALED}
    return manifest


def write_manifest(out_dir: str | os.PathLike, manifest: Mapping[str, Any]) -> Path:
    path = Path(out_dir) / MANIFEST_NAME
    write_json_atomic(path, dict(manifest))
    return path


def record_run(out_dir: str | os.PathLike, argv: Sequence[str] | None, config: Any, seeds: Sequence[int] | None,
               inputs: Mapping[str, Any] | None = None, **kwargs: Any) -> Path:
    """Build and write ``out_dir/manifest.json``; returns its path (keywords as :func:`build_manifest`)."""
    return write_manifest(out_dir, build_manifest(out_dir, argv, config, seeds, inputs, **kwargs))


def load_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """Read a ``manifest.json`` (or the one in a run dir); one-line errors for missing or broken files."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise InputFileError("no manifest.json: this folder was not written by a spoofbench train, score, run "
                             "or demo of this version (re-run the command to record one)", path) from err
    except (OSError, UnicodeDecodeError) as err:
        raise InputFileError(f"cannot read the manifest ({err})", path) from err
    except json.JSONDecodeError as err:
        raise InputFileError(f"not valid JSON: {err.msg}", path, err.lineno) from err
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise InputFileError(f"not a spoofbench run manifest (expected \"kind\": \"{KIND}\")", path, field="kind")
    if data.get("schema") not in SUPPORTED_SCHEMAS:
        raise InputFileError(f"manifest schema {data.get('schema')!r} is not supported (expected one of "
                             f"{list(SUPPORTED_SCHEMAS)})",
                             path, field="schema")
    for key in ("command", "config", "invocation", "environment", "inputs"):
        if key not in data:
            raise InputFileError(f"the manifest has no {key!r} section", path, field=key)
    return data


def edited_sections(manifest: Mapping[str, Any]) -> list[str]:
    """Sections whose content no longer matches the seal written with them (edited after the run)."""
    seal = _schema1_sha256_json if manifest.get("schema") == 1 else sha256_json
    seals = manifest.get("seals") or {}
    edited = [key for key in SEALED if key in seals and seal(manifest.get(key)) != seals[key]]
    if manifest.get("config_sha256") != seal(manifest.get("config")) and "config" not in edited:
        edited.append("config")
    return edited
