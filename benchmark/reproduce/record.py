"""One call per command that writes its ``manifest.json``: :func:`record_command`.

The CLI's train, score, run and demo call it after their work with what they ran; it derives the
input files, audio sets and codec conditions from the config, and never fails the command: a
manifest that cannot be written is reported in one line on stderr.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

from .manifest import AudioSet, record_run


def default_digest_cache() -> Path:
    """``$XDG_CACHE_HOME/spoofbench/digests`` (default ``~/.cache/spoofbench/digests``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "spoofbench" / "digests"


def expand_codec_ids(items: Sequence[str]) -> list[str]:
    """Condition ids with ``matrix:NAME`` expanded (unknown names are kept; the runner reports them)."""
    from ..runner.conditions import expand_codecs

    return expand_codecs(items, strict=False)


def benchmark_parts(config: Any, out_dir: str | os.PathLike) -> dict[str, Any]:
    """Files, audio sets, codecs and codec cache of a :class:`BenchmarkConfig` run into ``out_dir``."""
    out = Path(out_dir)
    files: dict[str, Any] = {}
    audio: dict[str, AudioSet] = {}
    for role, spec in (("train", config.train), ("dev", config.dev)):
        if spec is not None:
            files[f"manifest:{role}"] = spec.manifest
            audio[role] = AudioSet(spec.manifest, spec.root)
    for test in config.test_sets:
        files[f"manifest:{test.name}"] = test.manifest
        audio[test.name] = AudioSet(test.manifest, test.root)
    if config.protocol is not None:
        files["protocol"] = config.protocol.file
        for path in sorted((out / "protocol").glob("*.jsonl.gz")):
            name = path.name[: -len(".jsonl.gz")]
            files[f"manifest:{name}"] = str(path)
            audio.setdefault(name, AudioSet(str(path), dict(config.protocol.roots)))
    for spec in config.detectors:
        if spec.checkpoint:
            files[f"checkpoint:{spec.display}"] = spec.checkpoint
    return {"files": files, "audio": audio, "codecs": expand_codec_ids(config.codecs),
            "codec_cache": config.codec_cache, "device": config.device}


def _demo_parts(out_dir: str | os.PathLike, settings: Any, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The demo's corpus sets plus everything its sub-benchmarks (``<out>/<name>/config.yaml``) used."""
    from ..runner.config import BenchmarkConfig

    files: dict[str, Any] = {}
    audio: dict[str, AudioSet] = {}
    codecs: list[str] = []
    cache = None
    for name, path in sorted((inputs.get("corpus_manifests") or {}).items()):
        files[f"manifest:{name}"] = path
        audio[name] = AudioSet(path, inputs["corpus_dir"])
    for sub in sorted(Path(out_dir).glob("*/config.yaml")):
        try:
            parts = benchmark_parts(BenchmarkConfig.from_yaml(sub), sub.parent)
        except Exception:  # a sub-run config this version cannot read: its files stay unrecorded
            continue
        files.update({k: v for k, v in parts["files"].items() if k not in files})
        for name, spec in parts["audio"].items():
            audio.setdefault(name, spec)
        codecs += parts["codecs"]
        cache = cache or parts["codec_cache"]
    return {"files": files, "audio": audio, "codecs": list(dict.fromkeys(codecs)), "codec_cache": cache,
            "device": getattr(settings, "device", None)}


def _train_parts(config: Any, inputs: Mapping[str, Any]) -> dict[str, Any]:
    files = {"protocol": inputs.get("protocol"), "manifest:train": inputs.get("train_manifest"),
             "manifest:dev": inputs.get("dev_manifest")}
    audio = {}
    if inputs.get("train_manifest") and inputs.get("dev_manifest"):
        audio = {"train": AudioSet(inputs["train_manifest"], inputs["root"]),
                 "dev": AudioSet(inputs["dev_manifest"], inputs["root"])}
    elif inputs.get("protocol"):
        base = Path(inputs.get("manifests_dir") or Path(inputs["protocol"]).parent)
        for name in ("train", "dev"):
            found = sorted(base.glob(f"*{name}*.jsonl.gz"))
            for path in found:
                audio[path.name[: -len(".jsonl.gz")]] = AudioSet(str(path), inputs["root"])
    codec = getattr(getattr(config, "augment", None), "codec", None)
    ids = list(getattr(codec, "conditions", ()) or ()) + ([f"matrix:{codec.matrix}"] if getattr(codec, "matrix", None) else [])
    return {"files": files, "audio": audio, "device": getattr(config, "device", None),
            "codecs": expand_codec_ids(ids), "codec_cache": getattr(codec, "cache_dir", None)}


def _score_parts(config: Any, inputs: Mapping[str, Any]) -> dict[str, Any]:
    checkpoint = inputs.get("checkpoint")
    if not checkpoint and inputs.get("run"):
        best = Path(inputs["run"]) / "checkpoints" / "best.pt"
        checkpoint = str(best) if best.is_file() else None
    name = inputs.get("testset") or "test"
    return {"files": {"manifest:test": inputs.get("manifest"), "checkpoint": checkpoint},
            "audio": {name: AudioSet(inputs["manifest"], inputs["root"])},
            "codecs": expand_codec_ids(getattr(config, "codecs", ("none",)) or ("none",)),
            "codec_cache": getattr(config, "cache_dir", None), "device": getattr(config, "device", None)}


def record_command(out_dir: str | os.PathLike, argv: Sequence[str] | None, config: Any,
                   seeds: Sequence[int] | None, inputs: Mapping[str, Any] | None = None, *, command: str,
                   digest_cache: Any = "default", quiet: bool = False) -> Path | None:
    """Write ``out_dir/manifest.json`` for a finished ``train``/``score``/``run``/``demo``.

    ``config``: the resolved TrainConfig / ScoreConfig / BenchmarkConfig; ``inputs``: the call's other
    arguments (paths, roots, demo settings) as plain data. Returns the path, or None (with a one-line
    note on stderr) when the manifest could not be written: recording never fails the command.
    """
    inputs = dict(inputs or {})
    cache = default_digest_cache() if digest_cache == "default" else digest_cache
    try:
        if command == "run" or (command == "demo" and hasattr(config, "test_sets")):
            parts = benchmark_parts(config, out_dir)
        elif command == "demo":
            parts = _demo_parts(out_dir, config, inputs)
        elif command == "train":
            parts = _train_parts(config, inputs)
        elif command == "score":
            parts = _score_parts(config, inputs)
        else:
            raise ValueError(f"unknown command {command!r}")
        if command == "demo" and inputs.get("corpus_dir"):
            from ..digests import tree_digest
            tree = tree_digest(Path(inputs["corpus_dir"]) / "audio", suffix="", cache=None)
            extra = {"demo_corpus": {"directory": str(inputs["corpus_dir"]), "sha256": tree.digest,
                                     "n_files": tree.n_files}}
        else:
            extra = {}
        argv = list(argv) if argv is not None else sys.argv[1:]
        return record_run(out_dir, argv, config, seeds, inputs, command=command, digest_cache=cache,
                          extra=extra, **parts)
    except Exception as err:  # the command's own results are already written; say so and go on
        if not quiet:
            logging.getLogger(__name__).warning(
                f"{command}: manifest.json not written ({type(err).__name__}: {err})")
        return None


def settings_dict(settings: Any) -> dict[str, Any]:
    """A frozen settings dataclass as plain data (for ``inputs``)."""
    return dataclasses.asdict(settings) if dataclasses.is_dataclass(settings) else dict(settings)
