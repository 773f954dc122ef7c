"""``spoofbench models``: list the detector zoo, score audio files (thin layer over spoofbench.models)."""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from spoofbench.cli import add_device_option, command_parser
from spoofbench.logs import context_logger
from spoofbench.errors import ConfigError, DetectorError

log = logging.getLogger(__name__)


class _IntermixedParser(argparse.ArgumentParser):
    """Options may sit between positionals (``score NAME --checkpoint X A.wav B.wav``) while ``audio``
    may be empty (``score --model-module m:f A.wav``): argparse's intermixed parsing."""

    _inside = False

    def parse_known_args(self, args=None, namespace=None):
        if self._inside:  # parse_known_intermixed_args calls back into parse_known_args
            return super().parse_known_args(args, namespace)
        self._inside = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inside = False


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(subparsers, "models", help="the detector zoo: list detectors, score files",
                            example="spoofbench models list\n"
                                    "spoofbench models score aasist --checkpoint ../shared/reference/aasist/AASIST.pth "
                                    "../shared/reference/asvspoof2019_la_clips/LA_E_6163791.flac "
                                    "data_manifests/demo/audio/librispeech/librispeech-103-1240-0000-c0.flac")
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION", parser_class=_IntermixedParser)

    p = command_parser(sub, "list", help="detectors and presets with measured parameter counts, front-end, "
                                         "sample rate and input policy",
                       example="spoofbench models list --json")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--no-tiny", action="store_true", help="leave out the tiny test presets")
    p.add_argument("--no-cache", action="store_true",
                   help="build every preset again on the meta device instead of reading the counts shipped with "
                        "spoofbench or cached (both are used only while the models' code and libraries match)")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="where rows built here are cached (default: ~/.cache/spoofbench)")
    p.add_argument("names", nargs="*", help="only these detectors (default: all)")
    p.set_defaults(func=_list)

    p = command_parser(sub, "score", help="score audio files with one detector: prints `path score` per file "
                                          "(higher = bona fide), using the detector's input policy",
                       example="spoofbench models score aasist --checkpoint ../shared/reference/aasist/AASIST.pth "
                               "../shared/reference/asvspoof2019_la_clips/LA_E_6163791.flac")
    p.add_argument("name", help="detector name (see `spoofbench models list`) or a 'pkg.module:factory' spec; "
                                "with --model-module, the first audio file")
    p.add_argument("audio", nargs="*", type=Path, help="audio files (WAV, FLAC, MP3, OGG, ... read by libsndfile, else FFmpeg)")
    p.add_argument("--preset", default=None, help="named preset (default: the detector's default)")
    p.add_argument("--checkpoint", default=None, help="weights: a spoofbench checkpoint, official weights, "
                                                      "or SSL backbone weights (s3prl .pt or transformers dir)")
    add_device_option(p)
    p.add_argument("--batch-size", type=int, default=16, help="clips per forward pass (default: 16)")
    p.add_argument("--random-weights", action="store_true",
                   help="score a trained-by-gradient detector without --checkpoint, with its random initial "
                        "weights (only to test a pipeline: its scores mean nothing)")
    p.add_argument("--model-module", metavar="PKG.MODULE:FACTORY", default=None,
                   help="a detector from your own module: FACTORY(**overrides) returns a spoofbench Detector "
                        "implementing logits(waves, lengths) -> (batch, 2); the contract and an example: "
                        "README.md, 'Bring your own detector' (the module is imported from sys.path or the "
                        "current directory)")
    p.add_argument("--bonafide-label", default=None,
                   help="hf_audio_classification: the model's label (name or index) that means bona fide")
    p.add_argument("--score-mode", choices=("log_odds", "logit"), default=None,
                   help="hf_audio_classification: score = bona fide log-odds (default) or its raw logit")
    p.add_argument("--allow-download", action="store_true",
                   help="hf_audio_classification: --checkpoint may be a Hugging Face hub id (downloads)")
    p.set_defaults(func=_score)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _policy_text(policy: dict) -> str:
    if policy["mode"] == "fixed":
        return f"fixed {policy['num_samples']} {policy['pad']}, norm {policy['normalize']}"
    return f"full, norm {policy['normalize']}"


def _list(args: argparse.Namespace) -> int:
    from spoofbench.models import DETECTORS
    from spoofbench.models.zoo_cache import DEFAULT_CACHE_DIR, zoo_rows

    if all(name in DETECTORS for name in args.names):
        rows = zoo_rows(None if args.no_cache else (args.cache_dir or DEFAULT_CACHE_DIR), args.names,
                        shipped=not args.no_cache)
    else:  # a 'pkg.module:factory' spec: built now, never cached
        from spoofbench.models.catalog import describe_zoo
        rows = describe_zoo(args.names)
    rows = [r for r in rows if not (args.no_tiny and r["preset"] == "tiny")]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="spoofbench detectors (parameters counted from the built module)")
    for col in ("name", "preset", "parameters", "front-end", "rate", "input policy", "training"):
        table.add_column(col, justify="right" if col in ("parameters", "rate") else "left")
    for r in rows:
        table.add_row(r["name"], str(r["preset"]),
                      f"{r['parameters']:,}" if r["parameters"] is not None else "from weights",
                      r["frontend"], str(r["sample_rate"] or "-"),
                      _policy_text(r["input_policy"]) if r["input_policy"] else "-", r["training_mode"])
    Console(width=160).print(table)
    return 0


def _score(args: argparse.Namespace) -> int:
    log = context_logger("spoofbench.models.score", detector=args.model_module or args.name)
    from spoofbench.audio_io import read_audio, resampler_name
    from spoofbench.models import build_detector
    from spoofbench.engine.runtime import resolve_device
    from spoofbench.models.catalog import score_waveforms

    if args.model_module:
        args.audio, args.name = [Path(args.name), *args.audio], args.model_module
    if not args.audio:
        raise ConfigError("no audio files given; expected one or more paths after the detector name",
                          field="audio")
    overrides = {"bonafide_label": args.bonafide_label, "score_mode": args.score_mode,
                 "allow_download": args.allow_download or None}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    detector = build_detector(args.name, preset=args.preset, checkpoint=args.checkpoint, **overrides)
    if detector.training_mode == "fit" and not args.checkpoint:
        raise DetectorError(f"{args.name} must be fitted first; pass --checkpoint of a fitted model")
    if not args.checkpoint and not args.model_module:
        if not args.random_weights:
            raise DetectorError(f"{args.name} has no trained weights without --checkpoint, so its scores would come "
                                "from a random initialisation; pass --checkpoint WEIGHTS (or --random-weights to "
                                "test a pipeline on purpose)")
        log.warning("%s: scoring with RANDOM weights (--random-weights): these scores mean nothing", args.name)
    waves, rates = [], []
    for path in args.audio:
        # the reader and resampler of `spoofbench score`: the same clip gets the same input
        wave, info = read_audio(path, sample_rate=detector.sample_rate)
        if info.sample_rate != detector.sample_rate:
            log.info("%s: resampled %d Hz -> %d Hz (%s)", path, info.sample_rate, detector.sample_rate,
                     resampler_name())
        waves.append(wave)
        rates.append(detector.sample_rate)
    log.info("%s preset %s, input policy %s", detector.name, detector.preset, detector.input_policy.describe())
    scores = score_waveforms(detector, waves, rates, batch_size=args.batch_size,
                            device=resolve_device(args.device or "auto"))
    for path, score in zip(args.audio, scores):
        print(f"{path} {score:.6f}")
    return 0
