"""``spoofbench export``: write spoofbench data in other tools' formats (thin over spoofbench.formats)."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from spoofbench.cli import command_parser

log = logging.getLogger("spoofbench.export")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(subparsers, "export", help="write a manifest in another tool's format (lhotse)",
                            example="spoofbench export lhotse runs/demo-quick/corpus/demo_b_eval.jsonl.gz "
                                    "demo_b_eval_cuts.jsonl.gz --root runs/demo-quick/corpus")
    sub = parser.add_subparsers(dest="export_format", metavar="FORMAT")
    p = command_parser(sub, "lhotse", help="a spoofbench manifest as a lhotse CutSet (one mono cut per trial; "
                                           "label, attack, corpus, split in each supervision's custom fields)",
                       example="spoofbench export lhotse runs/demo-quick/corpus/demo_b_eval.jsonl.gz "
                               "demo_b_eval_cuts.jsonl.gz --root runs/demo-quick/corpus")
    p.add_argument("manifest", type=Path, help="spoofbench manifest (.jsonl or .jsonl.gz)")
    p.add_argument("out", type=Path, help="lhotse cuts manifest to write (.jsonl.gz or .jsonl)")
    p.add_argument("--root", type=Path, required=True,
                   help="corpus root the manifest's paths are relative to (cut sources are absolute)")
    p.set_defaults(func=_lhotse)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _lhotse(args: argparse.Namespace) -> int:
    from spoofbench.formats import export_lhotse

    count = export_lhotse(args.manifest, args.out, root=args.root)
    log.info("%s: %d cuts from %s", args.out, count, args.manifest)
    print(args.out)
    return 0
