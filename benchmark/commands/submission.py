"""``spoofbench submission check``: the submitter's side, without keys."""
from __future__ import annotations

import argparse

from ..cli import command_parser

EXAMPLE = """\
spoofbench submission check my_submission/ --trials trials/
spoofbench submission check my_submission/ --trials trials/ --score-col 2 --id-map '([^/]+)\\.wav$'
spoofbench submission check my_submission/ --trials trials/ --print-sha256   # lines for files: in submission.yaml"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(subparsers, "submission", help="check a leaderboard submission before sending it",
                            description="Check a score-file submission folder against the trial lists a "
                                        "leaderboard hands out: every trial once, no extra ids, finite numbers, "
                                        "files named TEST__CONDITION.txt, declared sha256s, nothing constant, no "
                                        "two conditions identical. Every problem is reported; exit 2 if any.",
                            example=EXAMPLE)
    sub = parser.add_subparsers(dest="submission_command", metavar="ACTION")
    check = sub.add_parser("check", help="check a submission folder against trial lists")
    check.add_argument("dir", help="submission folder (submission.yaml + score files)")
    check.add_argument("--trials", required=True, metavar="TRIALS_DIR",
                       help="trial lists from `spoofbench leaderboard trials`")
    check.add_argument("--print-sha256", action="store_true",
                       help="print 'NAME: SHA256' of the folder's score files (for files: in submission.yaml)")
    from .metrics import add_normalization_arguments
    add_normalization_arguments(check)
    check.set_defaults(func=_check)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _check(args: argparse.Namespace) -> int:
    from ..submission.check import check_submission, declare_files
    from ..submission.trials import read_trial_lists
    from .metrics import normalization_from_args

    if args.print_sha256:
        for name, digest in declare_files(args.dir).items():
            print(f"  {name}: {digest}")
        return 0
    checked = check_submission(args.dir, read_trial_lists(args.trials), normalization_from_args(args))
    dropped = sum(d["count"] for d in checked.dropped.values())
    print(f"{args.dir}: OK: {checked.spec.system}, {len(checked.scores)} score file(s)"
          + (f", {dropped} extra id(s) dropped" if dropped else ""))
    return 0
