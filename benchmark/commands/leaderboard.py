"""``spoofbench leaderboard``: init, trials, add, list, withdraw, build (the operator's commands)."""
from __future__ import annotations

import argparse

from ..cli import command_parser

EXAMPLE = """\
spoofbench leaderboard init board/ --benchmark leaderboard.yaml
spoofbench leaderboard trials board/ --out trials/          # hand trials/ to submitters
spoofbench leaderboard add board/ submissions/tiny-cnn/     # score files or a model
spoofbench leaderboard list board/
spoofbench leaderboard withdraw board/ tiny-cnn --version 1 --reason "trained on test data"
spoofbench leaderboard build board/ --out site/             # open site/index.html
spoofbench leaderboard audit board/                         # recompute every number; exit 1 on drift"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(subparsers, "leaderboard", help="run a leaderboard: store submissions, rank, build a site",
                            description="Operate a leaderboard for one benchmark config: export trial lists, "
                                        "add score-file or model submissions (checked, scored against the keys, "
                                        "stored in a SQLite/SQLAlchemy database), withdraw, and build a static site.",
                            example=EXAMPLE)
    sub = parser.add_subparsers(dest="leaderboard_command", metavar="ACTION")
    init = sub.add_parser("init", help="create a leaderboard folder for a config")
    init.add_argument("dir", help="leaderboard folder to create")
    init.add_argument("--benchmark", required=True, metavar="B.yaml", help="leaderboard config (test sets, codecs, ...)")
    init.add_argument("--db", default=None, metavar="URL",
                      help="SQLAlchemy database URL (default: sqlite:///DIR/leaderboard.sqlite)")
    init.set_defaults(func=_init)
    trials = sub.add_parser("trials", help="export the submitters' trial lists (ids only, shuffled)")
    trials.add_argument("dir", help="leaderboard folder")
    trials.add_argument("--out", required=True, metavar="TRIALS_DIR", help="folder for the trial lists")
    trials.set_defaults(func=_trials)
    add = sub.add_parser("add", help="check, score and store a submission (score files or a model)")
    add.add_argument("dir", help="leaderboard folder")
    add.add_argument("submission", help="submission folder with submission.yaml")
    from .metrics import add_normalization_arguments
    add_normalization_arguments(add)
    add.add_argument("--unsafe-no-sandbox", action="store_true",
                     help="run a model submission's code without the bubblewrap sandbox where this machine "
                          "cannot create namespaces (recorded as UNSAFE in the store and on the page)")
    add.set_defaults(func=_add)
    listing = sub.add_parser("list", help="print the ranked table")
    listing.add_argument("dir", help="leaderboard folder")
    listing.add_argument("--all", action="store_true", help="also list withdrawn versions")
    listing.set_defaults(func=_list)
    withdraw = sub.add_parser("withdraw", help="withdraw a system (one version or all)")
    withdraw.add_argument("dir", help="leaderboard folder")
    withdraw.add_argument("system", help="system name")
    withdraw.add_argument("--version", type=int, default=None, help="only this version (default: all)")
    withdraw.add_argument("--reason", required=True, help="why, shown on the board")
    withdraw.set_defaults(func=_withdraw)
    build = sub.add_parser("build", help="write the static site (HTML, CSS, JS; Markdown and CSV exports)")
    build.add_argument("dir", help="leaderboard folder")
    build.add_argument("--out", required=True, metavar="SITE", help="folder for the static site")
    build.add_argument("--no-det", action="store_true", help="skip DET plots (faster)")
    build.set_defaults(func=_build)
    audit = sub.add_parser("audit", help="recompute every stored number from the stored score files; exit 1 on drift")
    audit.add_argument("dir", help="leaderboard folder")
    audit.set_defaults(func=_audit)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _open(path: str):
    from ..leaderboard.board import Leaderboard
    return Leaderboard.open(path)


def _init(args: argparse.Namespace) -> int:
    from ..leaderboard.board import init_leaderboard

    board = init_leaderboard(args.dir, args.benchmark, args.db)
    print(f"leaderboard {board.config.name!r} in {args.dir}: {len(board.config.test_sets)} test set(s) × "
          f"{len(board.codecs)} condition(s); store {board.store.url}")
    board.close()
    return 0


def _trials(args: argparse.Namespace) -> int:
    board = _open(args.dir)
    written = board.export_trials(args.out)
    print(f"wrote {len(written) - 1} trial list(s) and leaderboard.json to {args.out}")
    board.close()
    return 0


def _add(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..leaderboard.ingest import add_submission
    from ..leaderboard.models import add_model_submission
    from ..submission.spec import load_spec
    from .metrics import normalization_from_args

    board = _open(args.dir)
    try:
        if load_spec(args.submission).kind == "model":
            result = add_model_submission(board, args.submission, progress=True,
                                          unsafe_no_sandbox=args.unsafe_no_sandbox)
        else:
            result = add_submission(board, Path(args.submission), normalization_from_args(args))
    finally:
        board.close()
    pooled = "n/a (no OOD cells)" if result.pooled_ood_eer is None else f"{result.pooled_ood_eer * 100:.2f}%"
    print(f"accepted {result.system} v{result.version} (id {result.id}): {result.cells} cell(s), "
          f"{result.coverage[0]} of {result.coverage[1]} test set(s), pooled OOD EER {pooled}"
          + (f", {result.filled} missing trial(s) scored as the system's worst score" if result.filled else ""))
    for duplicate in result.duplicates:
        print(f"warning: {duplicate}: byte-identical score files; check this is not a copy of another system")
    return 0


def _list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from ..leaderboard.ranking import leaderboard_rows, table_columns, table_records

    board = _open(args.dir)
    rows = leaderboard_rows(board)
    from ..leaderboard.ranking import ranking_rule

    table = Table(title=f"{board.config.name}: {ranking_rule(board)} (* in-domain, † parameters not counted by "
                        "the operator)")
    for column in table_columns(board):
        table.add_column(column, justify="left" if column in ("system", "date") else "right")
    for record in table_records(board, rows):
        table.add_row(*record)
    import shutil

    console = Console(width=max(160, shutil.get_terminal_size().columns))  # a wide table: never squeeze it
    console.print(table)
    if args.all:
        withdrawn = [s for s in board.store.submissions(include_withdrawn=True) if s["status"] != "accepted"]
        for sub in withdrawn:
            last = board.store.history(sub["id"])[-1]
            console.print(f"{sub['system']} v{sub['version']}: {sub['status']} ({last['reason']})")
    board.close()
    return 0


def _withdraw(args: argparse.Namespace) -> int:
    board = _open(args.dir)
    changed = board.store.set_status(args.system, args.version, "withdrawn", args.reason)
    board.close()
    versions = ", ".join(f"v{r['version']}" for r in changed) or "nothing (already withdrawn)"
    print(f"withdrew {args.system}: {versions}")
    return 0


def _build(args: argparse.Namespace) -> int:
    from ..leaderboard.site import build_site

    board = _open(args.dir)
    written = build_site(board, args.out, det=not args.no_det)
    board.close()
    print(f"wrote {len(written)} file(s); open {args.out}/index.html")
    return 0


def _audit(args: argparse.Namespace) -> int:
    from ..leaderboard.audit import audit_board

    board = _open(args.dir)
    try:
        report = audit_board(board)
    finally:
        board.close()
    for problem in report.problems:
        print(f"DRIFT: {problem}")
    verdict = "no drift" if report.ok else f"{len(report.problems)} drift(s)"
    print(f"audit of {args.dir}: {report.submissions} submission(s), {report.files} score file(s): {verdict}")
    return 0 if report.ok else 1
