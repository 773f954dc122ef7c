"""``spoofbench export``: write spoofbench data in other tools' formats (thin over spoofbench.formats and
spoofbench.runner.leaderboard_export)."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from spoofbench.cli import command_parser

log = logging.getLogger("spoofbench.export")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(subparsers, "export",
                            help="write a manifest in another tool's format (lhotse) or a run's cells in a "
                                 "leaderboard's layout",
                            example="spoofbench export lhotse runs/demo-quick/corpus/demo_b_eval.jsonl.gz "
                                    "--out demo_b_eval_cuts.jsonl.gz --root runs/demo-quick/corpus")
    sub = parser.add_subparsers(dest="export_format", metavar="FORMAT")
    p = command_parser(sub, "lhotse", help="a spoofbench manifest as a lhotse CutSet (one mono cut per trial; "
                                           "label, attack, corpus, split in each supervision's custom fields)",
                       example="spoofbench export lhotse runs/demo-quick/corpus/demo_b_eval.jsonl.gz "
                               "--out demo_b_eval_cuts.jsonl.gz --root runs/demo-quick/corpus")
    p.add_argument("manifest", type=Path, help="spoofbench manifest (.jsonl or .jsonl.gz)")
    p.add_argument("--out", dest="out_option", type=Path, metavar="OUT",
                   help="lhotse cuts manifest to write (.jsonl.gz or .jsonl), as export leaderboard's --out")
    p.add_argument("out", type=Path, nargs="?", help=argparse.SUPPRESS)  # deprecated positional OUT
    p.add_argument("--root", type=Path, required=True,
                   help="corpus root the manifest's paths are relative to (cut sources are absolute)")
    p.set_defaults(func=_lhotse)
    _register_leaderboard(sub)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _lhotse_out(args: argparse.Namespace) -> Path:
    """``--out``, or the deprecated positional output (a warning); one of the two, never both or neither."""
    from spoofbench.errors import SpoofbenchError

    if args.out is not None and args.out_option is not None:
        raise SpoofbenchError(f"two outputs ({args.out} and --out {args.out_option}); give --out only")
    if args.out is None and args.out_option is None:
        raise SpoofbenchError("no output: give --out CUTS.jsonl.gz")
    if args.out is not None:
        log.warning("export lhotse MANIFEST OUT is deprecated; write export lhotse MANIFEST --out OUT "
                    "(as export leaderboard takes it)")
    return args.out_option or args.out


def _lhotse(args: argparse.Namespace) -> int:
    from spoofbench.formats import export_lhotse

    args.out = _lhotse_out(args)
    count = export_lhotse(args.manifest, args.out, root=args.root)
    log.info("%s: %d cuts from %s", args.out, count, args.manifest)
    print(args.out)
    return 0


def _register_leaderboard(sub: argparse._SubParsersAction) -> None:
    from spoofbench.runner.leaderboard_export import LEADERBOARD_FORMATS

    p = command_parser(
        sub, "leaderboard",
        help="a run's cells in a public leaderboard's layout: " + "; ".join(
            f"{name}: {text}" for name, text in LEADERBOARD_FORMATS.items()).replace("%", "%%"),
        description="Export a finished run's cells for a public leaderboard. Every exported cell must be "
                    "complete; a missing, failed or partly scored cell is refused, never exported silently. "
                    "Layouts and their sources: docs/leaderboard.md.",
        example="spoofbench export leaderboard runs/demo-quick/ladder --format df-arena --out df_arena.csv\n"
                "spoofbench export leaderboard runs/demo-quick/ladder --format asvspoof5-codalab "
                "--map r4_corpora --detector lfcc_gmm --seed 0 --out submission.zip")
    p.add_argument("run", type=Path, help="run folder (or its result.json / cells.jsonl)")
    p.add_argument("--format", dest="leaderboard_format", required=True, choices=tuple(LEADERBOARD_FORMATS),
                   help="the leaderboard's layout")
    p.add_argument("--out", type=Path, required=True,
                   help="file to write: .csv or .json for df-arena, .zip for the CodaLab formats")
    p.add_argument("--map", dest="maps", action="extend", nargs="+", metavar="TEST_SET[@CODEC][=COLUMN]",
                   help="a cell for a leaderboard column (df-arena) or the zip's score file (codalab); repeat "
                        "or list more columns. CODEC defaults to none; COLUMN to the leaderboard's dataset key "
                        "where known (else the test set's name), or the member name the challenge requires. "
                        "Default (df-arena): every test set, uncoded")
    p.add_argument("--detector", dest="detectors", action="extend", nargs="+", metavar="NAME",
                   help="export only these detectors (default: all; a zip needs exactly one)")
    p.add_argument("--seed", dest="seeds", action="extend", nargs="+", type=int, metavar="N",
                   help="export only these seeds (default: all; a zip needs exactly one)")
    p.add_argument("--per-seed", action="store_true",
                   help="df-arena: one row per detector and seed (default: the mean EER over seeds)")
    p.add_argument("--allow-dev-as-test", action="store_true",
                   help="export cells of a test set that shares trials with the run's dev set (refused by "
                        "default: the dev set selected the checkpoints, so those are not held-out results)")
    p.set_defaults(func=_leaderboard)


def _leaderboard(args: argparse.Namespace) -> int:
    from spoofbench.runner.leaderboard_export import ColumnMap, ExportSelection, export_leaderboard

    selection = ExportSelection(maps=tuple(ColumnMap.parse(m) for m in args.maps or ()),
                                detectors=tuple(args.detectors or ()), seeds=tuple(args.seeds or ()),
                                per_seed=args.per_seed, allow_dev_as_test=args.allow_dev_as_test)
    out = export_leaderboard(args.run, args.leaderboard_format, args.out, selection)
    log.info("%s: %s layout from %s", out, args.leaderboard_format, args.run)
    print(out)
    return 0
