"""``spoofbench verify``: check an untrusted detector submission in a limited, network-less process."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..cli import command_parser


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(
        subparsers, "verify", help="verify a detector submission (wheel or zoo preset + checkpoint) in a sandbox",
        description="Install SUBMISSION (a wheel with a 'spoofbench.detectors' entry point) into a throw-away "
                    "venv, or take a zoo detector name with --checkpoint, and run it in a separate process with "
                    "a bubblewrap sandbox (no network, no view of the host's files beyond the interpreter, the packages and the probe audio; wall-clock, memory, process and file-size limits). The verdict is computed by this process from the scores sent back. Checks: it builds and declares an input "
                    "policy; real probe clips give finite scores of shape (B,); same seed, same scores; scores "
                    "do not depend on batch composition; then parameter count and real-time factor. Writes "
                    "verification.json. Exit 0: verified, 1: a check failed (reason printed), 2: bad input.",
        example="""
        spoofbench verify dist/my_detector-0.1-py3-none-any.whl --out runs/verify-mine
        spoofbench verify rawcnn_2m --preset tiny --out runs/verify-rawcnn""")
    parser.add_argument("submission", help="a .whl file, or a registered detector name")
    parser.add_argument("--detector", help="entry-point name when the wheel declares several")
    parser.add_argument("--preset", help="preset of a zoo detector (default: its default)")
    parser.add_argument("--checkpoint", help="weights for a zoo detector")
    parser.add_argument("--out", help="folder for verification.json (default: current folder)")
    parser.add_argument("--timeout", type=float, default=300.0, help="wall-clock limit in seconds (default 300)")
    parser.add_argument("--memory-mb", type=int, default=8192,
                        help="address-space limit in MB (default 8192); it covers the whole worker, torch's "
                             "shared libraries included (torch alone needs about 1-2 GB)")
    parser.add_argument("--unsafe-no-sandbox", action="store_true",
                        help="where bubblewrap cannot create namespaces, run the submission without the sandbox "
                             "anyway (the report says UNSAFE); ignored where the sandbox works")
    parser.add_argument("--seed", type=int, default=0, help="seed of the probe run (default 0)")
    parser.add_argument("--json", action="store_true", help="print the JSON report")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..submission.verify import verify_submission

    report = verify_submission(args.submission, detector=args.detector, preset=args.preset,
                               checkpoint=args.checkpoint, out_dir=args.out or ".", timeout_s=args.timeout,
                               memory_mb=args.memory_mb, seed=args.seed,
                               unsafe_no_sandbox=args.unsafe_no_sandbox)
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
    else:
        for name, check in report.checks.items():
            mark = "ok" if check.get("ok") else "FAILED"
            extra = check.get("reason") or ", ".join(f"{k}={v}" for k, v in check.items()
                                                     if k in ("parameters", "parameters_source", "real_time_factor",
                                                              "n_clips", "how"))
            print(f"{mark:6} {name}: {extra}")
        for note in report.notes:
            print(f"note: {note}")
        print(f"{'VERIFIED' if report.passed else 'REJECTED'}: {report.reason}")
        print(f"report: {Path(args.out or '.') / 'verification.json'}")
    return 0 if report.passed else 1
