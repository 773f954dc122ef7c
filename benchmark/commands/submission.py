"""``spoofbench submission check``: the submitter's side, without keys."""
from __future__ import annotations

import argparse

from ..cli import command_parser

EXAMPLE = """\
spoofbench submission check my_submission/ --trials trials/
spoofbench submission check my_submission/ --trials trials/ --score-col 2 --id-map '([^/]+)\\.wav$'
spoofbench submission check my_submission/ --trials trials/ --print-sha256   # lines for files: in submission.yaml
spoofbench submission check my_model_submission/                               # model: runs spoofbench verify"""


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
    check.add_argument("--trials", default=None, metavar="TRIALS_DIR",
                       help="trial lists from `spoofbench leaderboard trials` (score-file submissions)")
    check.add_argument("--print-sha256", action="store_true",
                       help="print 'NAME: SHA256' of the folder's score files (for files: in submission.yaml)")
    from .metrics import add_normalization_arguments
    add_normalization_arguments(check)
    check.add_argument("--unsafe-no-sandbox", action="store_true",
                       help="model submissions: run verify without the bubblewrap sandbox where this machine "
                            "cannot create namespaces (ignored where the sandbox works)")
    check.set_defaults(func=_check)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _check(args: argparse.Namespace) -> int:
    from ..errors import SubmissionError
    from ..submission.check import check_submission, declare_files
    from ..submission.spec import load_spec
    from ..submission.trials import read_trial_lists
    from .metrics import normalization_from_args

    if args.print_sha256:
        for name, digest in declare_files(args.dir).items():
            print(f"  {name}: {digest}")
        return 0
    spec = load_spec(args.dir)
    if spec.kind == "model":
        return _check_model(args, spec)
    if args.trials is None:
        raise SubmissionError("a score-file submission is checked against trial lists: give --trials TRIALS_DIR")
    checked = check_submission(args.dir, read_trial_lists(args.trials), normalization_from_args(args))
    dropped = sum(d["count"] for d in checked.dropped.values())
    covered, of = checked.coverage
    print(f"{args.dir}: OK: {checked.spec.system}, {len(checked.scores)} score file(s)"
          + (f", {dropped} extra id(s) dropped" if dropped else "")
          + (f", {covered} of {of} test sets (partial coverage: the leaderboard ranks it as its YAML says)"
             if covered < of else ""))
    return 0


def _check_model(args: argparse.Namespace, spec) -> int:
    """A model submission: ``spoofbench verify`` and the declared parameter count (no keys, no trials)."""
    import tempfile
    from pathlib import Path

    from ..submission.model import verify_model

    with tempfile.TemporaryDirectory(prefix="spoofbench-check-") as work:
        verified = verify_model(spec, Path(args.dir), Path(work), unsafe_no_sandbox=args.unsafe_no_sandbox)
    rtf = verified["rtf"]
    print(f"{args.dir}: OK: {spec.system}, model {spec.model.detector}"
          f"{':' + spec.model.preset if spec.model.preset else ''} passed verify: {verified['parameters']:,} "
          f"parameters ({verified['parameters_source']}), real-time factor {'n/a' if rtf is None else f'{rtf:.4f}'}")
    return 0
