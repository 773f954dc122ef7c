"""``spoofbench prepare``, ``spoofbench corpora {list,split}`` and ``spoofbench validate``."""
from __future__ import annotations

import argparse
import json
import logging

from ..cli import command_parser

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    prepare = command_parser(
        subparsers, "prepare", help="write manifests of a corpus read in its published layout",
        example="spoofbench prepare asvspoof2019_la --root ../shared/corpora/asvspoof2019_la_mini --out manifests/ --probe")
    prepare.add_argument("corpus", help="recipe name (see `spoofbench corpora list`)")
    prepare.add_argument("--root", required=True, help="folder holding the corpus as published")
    prepare.add_argument("--out", required=True,
                         help="folder for <corpus>_<split>.jsonl.gz: <corpus> is the corpus id written in the "
                              "manifest (a recipe's own id; csv: the CSV file's name; folder: the --root folder's "
                              "name), <split> a split of its protocol (csv/folder without splits: 'all')")
    prepare.add_argument("--split", action="extend", nargs="+", dest="splits",
                         help="only these splits (repeatable; default: all)")
    prepare.add_argument("--protocol", help="protocol/metadata file or folder when it is not in "
                                            "its published place under --root")
    prepare.add_argument("--probe", action="store_true",
                         help="read audio headers (sample rate, length); skip unreadable files")
    prepare.add_argument("--cache-dir", default=".cache/probe", help="probe cache folder")
    prepare.add_argument("--no-check-audio", action="store_true",
                         help="write the protocol as listed without looking for the audio")
    prepare.add_argument("--workers", type=int, default=None, help="header-probing threads")
    prepare.add_argument("--allow-missing", action="store_true",
                         help="accept listed audio that is missing or unreadable (skipped); "
                              "without it prepare exits 1 when any is")
    prepare.set_defaults(func=_prepare)

    corpora = command_parser(
        subparsers, "corpora", help="list corpus recipes; split manifests by an OOD protocol",
        example="spoofbench corpora list\n"
                "spoofbench corpora split data_manifests/demo/protocol.yaml --manifests runs/demo-quick/corpus --out splits/")
    actions = corpora.add_subparsers(dest="corpora_command", metavar="ACTION")
    listing = actions.add_parser("list", help="recipes with their published trial counts")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=_list)
    split = actions.add_parser("split", help="write labelled train/dev/test manifests of a "
                                             "protocol YAML and report domains and overlap")
    split.add_argument("protocol", help="protocol YAML, or the name of a shipped one (see data_manifests/protocols/)")
    split.add_argument("--manifests", required=True, help="folder with <corpus>_<split>.jsonl.gz")
    split.add_argument("--out", required=True, help="folder for the split manifests + report")
    split.add_argument("--json", action="store_true", help="print the report as JSON")
    split.set_defaults(func=_split)
    corpora.set_defaults(func=lambda args: (corpora.print_help(), 2)[1])

    validate = command_parser(
        subparsers, "validate", help="check every audio file of a manifest; exit 1 on problems",
        example="spoofbench validate runs/demo-quick/corpus/demo_b_eval.jsonl.gz --root runs/demo-quick/corpus "
                "--expect-sr 16000 --write-clean clean/demo_b_eval.jsonl.gz")
    validate.add_argument("manifest", help="manifest to check (.jsonl[.gz])")
    validate.add_argument("--root", required=True, help="corpus root the manifest paths are under")
    validate.add_argument("--expect-sr", type=int, default=None, help="required sample rate (Hz)")
    validate.add_argument("--write-clean", default=None,
                          help="write the good trials here (+ a .rejects.jsonl with reasons)")
    validate.add_argument("--workers", type=int, default=4, help="audio-reading threads (default 4)")
    validate.add_argument("--max-lines", type=int, default=200,
                          help="problems printed (all are counted and in the rejects file)")
    validate.set_defaults(func=_validate)


def _prepare(args: argparse.Namespace) -> int:
    from ..corpora.recipe import prepare

    report = prepare(args.corpus, args.root, args.out, splits=args.splits,
                     protocol=args.protocol, probe=args.probe, cache_dir=args.cache_dir,
                     workers=args.workers, check_audio=not args.no_check_audio,
                     progress=True)
    for verdict in _protocol_verdicts(args.protocol):
        print(verdict)
    for split in report.splits:
        print(split.describe())
        for path in split.missing[:20]:
            print(f"  missing: {path}")
        for path in split.unreadable[:20]:
            print(f"  unreadable: {path}")
    problems = report.problems(allow_missing=args.allow_missing)
    for problem in problems:
        log.error(problem)
    return 1 if problems else 0


def _protocol_verdicts(protocol: str | None) -> list[str]:
    """sha256 verdicts for an explicitly given protocol file (or the known files in a folder)."""
    from pathlib import Path

    from ..corpora.cards import all_cards, check_protocol_file

    if not protocol:
        return []
    path = Path(protocol)
    if path.is_file():
        return [check_protocol_file(path)]
    known = {entry.get("name") for card in all_cards().values()
             for entry in card.protocol_files.values()}
    return [check_protocol_file(p) for p in sorted(path.glob("*")) if p.name in known]


def _list(args: argparse.Namespace) -> int:
    from ..corpora import RECIPES

    rows = []
    for name in RECIPES.names():
        recipe = RECIPES.get(name)
        rows.append({"name": name, "title": recipe.title, "expected": dict(recipe.expected),
                     "layout": recipe.layout, "source": recipe.source, "licence": recipe.licence,
                     "notes": recipe.notes, "provided_by": RECIPES.source(name)})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="corpus recipes (expected trial counts as published; - = unknown/varies)")
    for column in ("name", "splits: expected trials", "layout under --root"):
        table.add_column(column)
    for row in rows:
        counts = ", ".join(f"{k} {v:,}" if v is not None else f"{k} -"
                           for k, v in row["expected"].items()) or "from the data"
        table.add_row(row["name"], counts, row["layout"])
    Console(width=max(120, Console().width)).print(table)
    return 0


def _split(args: argparse.Namespace) -> int:
    from ..corpora.protocol import load_protocol, write_protocol

    from ..shipped import resolve_shipped

    protocol = load_protocol(resolve_shipped(args.protocol, "protocol"), manifests_dir=args.manifests)
    summary = write_protocol(protocol, args.out)
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
        return 0
    print(f"protocol {summary['name']}: train {summary['train']['trials']:,} trials, "
          f"dev {summary['dev']['trials']:,} → {args.out}")
    for name, test in summary["tests"].items():
        print(f"  test {name}: {test['trials']:,} trials, {test['domain']}"
              + (f" ({test['reason']})" if test["reason"] else ""))
        for kind, values in test["overlap"].items():
            if values["count"]:
                print(f"    overlap with train, {kind}: {values['count']:,} "
                      f"(e.g. {', '.join(values['examples'][:3])})")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from ..corpora.validate import ValidationConfig, rejects_path, validate_manifest
    from pathlib import Path

    config = ValidationConfig(expect_sr=args.expect_sr, workers=args.workers)
    report = validate_manifest(args.manifest, args.root, config=config,
                               write_clean=args.write_clean, progress=True)
    for problem in report.problems[: args.max_lines]:
        print(problem.describe())
    if len(report.problems) > args.max_lines:
        print(f"... {len(report.problems) - args.max_lines} more problems")
    counts = ", ".join(f"{k} {v}" for k, v in report.counts().items()) or "none"
    print(f"{report.checked} trials checked, {report.checked - report.kept} with problems "
          f"({counts})")
    if report.decoders.get("pyav"):
        print(f"decoded by libsndfile {report.decoders.get('libsndfile', 0)}, by PyAV (FFmpeg) "
              f"{report.decoders['pyav']} where libsndfile could not")
    if args.write_clean:
        print(f"clean manifest: {args.write_clean} ({report.kept} trials); rejects: "
              f"{rejects_path(Path(args.write_clean))}")
    return 0 if report.ok else 1
